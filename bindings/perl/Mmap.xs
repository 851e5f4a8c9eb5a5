/* Sys::Mmap: the Perl glue over mmipc::mapping (compiled as C++20).
 *
 * The core maps, decodes mmap(2)'s numbers (mmipc/posix_map.hpp) and keeps the registry of
 * live mappings (live_ranges.hpp); this file converts Perl arguments, calls it and reports
 * errors. A mapped variable is an ordinary string whose buffer is the mapped memory (SvLEN
 * 0, so Perl never frees or reallocates it in place) plus one piece of our own variable magic
 * (PERL_MAGIC_ext, as File::Map does) that owns the mapping:
 *
 *   - mmap() variables: no get or set hook at all, so every read costs what it costs on any
 *     string; the magic only unmaps when the variable is freed and is copied into threads.
 *     Like 0.20's, they are raw memory: Perl edits them in place.
 *   - new() variables behave like 0.20's tied variable, byte for byte, without its FETCH
 *     copy: reads see the region directly; a set hook writes whatever Perl stored over the
 *     start of the region and points the variable back at it. Perl's string ops assume they
 *     own the buffer they edit (a shortening s/// or substr moves bytes, writes a NUL at the
 *     new end, and may copy the buffer half-way and finish in the old one), so an op that
 *     would edit a new() variable in place first gets a private copy of it, and an op that
 *     overwrites it (an assignment) gets an empty buffer: see "ops" below. Same-length
 *     writes (substr, vec, tr without /d) stay in place: they give 0.20's result.
 *     `tied` sees magic of type PERL_MAGIC_tiedscalar with our own vtable (no FETCH), whose
 *     object is the one new() returned; `untie` removes it and leaves a plain copy.
 *   - hardwire() variables: a get hook that turns the variable undef once every owner of
 *     its mapping is gone. They hold a reference, so the memory stays mapped until they have
 *     noticed: a hardwired variable never points at unmapped memory.
 *
 * Why not copy-on-write flags (SvIsCOW_static, Perl 5.36+) for new() variables: sv.c's
 * sv_setsv_flags() and sv_setsv_cow() share a static COW buffer with the copy instead of
 * copying it, so `my $copy = $var` would alias the mapped memory (and dangle after munmap).
 *
 * A mapping is a `region` on the C++ heap shared by every interpreter (threads clone
 * variables, not memory), counted atomically; svt_dup counts the clones, so the region is
 * unmapped once, by whichever variable lets go last.
 *
 * Errors: C++ work happens in small noexcept functions that return a plain `failure`; every
 * error leaves through fail(), which sets $! and croaks, only once no C++ object is alive
 * (croak longjmps past destructors). */

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "live_ranges.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/posix_map.hpp"

#define PERL_NO_GET_CONTEXT
/* Perl's own headers use C idioms C++20 deprecates (volatile parameters). Their order
 * matters. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
// clang-format off
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"
// clang-format on
#pragma GCC diagnostic pop

/* glibc's <sys/mman.h> does not define these (the original module lacked them for that
 * reason); the values are the kernel's: log2(page size) << MAP_HUGE_SHIFT. */
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif

namespace {

/* One mapping made by mmap() or new(). */
struct region {
  mmipc::mapping map;
  bool tainted;                /* file data: tainted under -T */
  std::atomic<long> owners{1}; /* mmap()/new() variables and objects, in every interpreter */
  std::atomic<long> refs{1};   /* owners plus hardwired variables */
  /* Variables hardwired into the region, with their interpreter (guarded by views_mutex):
   * made undef as soon as the last owner lets go. */
  std::vector<std::pair<void*, SV*>> views{};
  /* A buffer of at least size() + 1 bytes, kept from the last copy an op was given: large
   * copies then reuse memory that is already faulted in instead of fresh pages each time. */
  std::atomic<char*> spare{nullptr};

  char* data() const { return reinterpret_cast<char*>(map.data()); }
  STRLEN size() const { return map.size(); }

  /* A buffer for a private copy of the region. */
  char* take_buffer() {
    char* buffer = spare.exchange(nullptr);
    if (!buffer) Newx(buffer, size() + 1, char);
    return buffer;
  }
  /* Keeps `buffer` (from take_buffer() or Perl, at least size() + 1 bytes) or frees it. */
  void give_back(char* buffer) {
    char* none = nullptr;
    if (!spare.compare_exchange_strong(none, buffer)) Safefree(buffer);
  }
  ~region() { Safefree(spare.load()); }
};

std::mutex views_mutex;
/* Regions that still have an owner: what hardwire() may point into. */
mmipc::detail::live_ranges live;

/* ---- errors ---- */

/* What went wrong, as plain data that survives leaving every C++ scope. */
struct failure {
  int err = 0;
  char message[512] = {0};
};

void describe(failure& f, int err, const char* format, ...) __attribute__((format(printf, 3, 4)));
void describe(failure& f, int err, const char* format, ...) {
  f.err = err;
  va_list args;
  va_start(args, format);
  std::vsnprintf(f.message, sizeof f.message, format, args);
  va_end(args);
}

/* The message the original module gave for any failing system call. */
void syscall_failed(failure& f, const char* op, int err) {
  describe(f, err, "%s: %s call failed: errno: %d errmsg: %s ", op, op, err, std::strerror(err));
}

/* The one way out with an error: sets $! and croaks (Perl appends " at FILE line N."). */
[[noreturn]] void fail(pTHX_ const failure& f) {
  if (f.err != 0) SETERRNO(f.err, 0);
  Perl_croak(aTHX_ "%s", f.message);
}

[[noreturn]] void fail(pTHX_ int err, const char* format, ...)
    __attribute__((format(printf, 3, 4)));
[[noreturn]] void fail(pTHX_ int err, const char* format, ...) {
  failure f;
  f.err = err;
  va_list args;
  va_start(args, format);
  std::vsnprintf(f.message, sizeof f.message, format, args);
  va_end(args);
  fail(aTHX_ f);
}

/* A call with the wrong number of arguments (through `&`, past the prototype): Perl's usage
 * message, the original's words, with $! set like every other error here. */
[[noreturn]] void usage(pTHX_ CV* cv, const char* params) {
  SETERRNO(EINVAL, 0);
  croak_xs_usage(cv, params);
}

/* ---- regions ---- */

void keep_region(const void* r) {
  static_cast<region*>(const_cast<void*>(r))->refs.fetch_add(1);
}

void detach_orphan(pTHX_ SV* sv, region* r);

/* Drops one reference (and one owner when `owner`); the last one unmaps. When the last owner
 * goes, the variables of this interpreter hardwired into the region become undef now (those
 * cloned into other threads notice on their next read). */
void release(pTHX_ region* r, bool owner) noexcept {
  bool last = false;
  if (owner) {
    last = r->owners.fetch_sub(1) == 1;
    if (last) live.remove(r);
  }
  while (last) {
    /* In batches, so no allocation is needed; each detach takes its variable out of views
     * and drops its reference (ours keeps r alive meanwhile). */
    SV* batch[64];
    std::size_t count = 0;
    {
      std::lock_guard<std::mutex> lock(views_mutex);
      for (const auto& [interp, sv] : r->views) {
        if (interp == static_cast<void*>(aTHX) && count < std::size(batch)) batch[count++] = sv;
      }
    }
    if (count == 0) break;
    for (std::size_t i = 0; i < count; ++i) detach_orphan(aTHX_ batch[i], r);
  }
  if (r->refs.fetch_sub(1) == 1) delete r;
}

/* What mmap() asked for, already converted. */
struct request {
  int fd;
  std::uint64_t offset;
  std::uint64_t length; /* 0: to the end of the file */
  mmipc::posix_map_request posix;
};

region* make_region(const request& req, failure& f) noexcept {
  try {
    mmipc::map_options options = req.posix.options;
    options.trailing_zero_page = true; /* Perl reads the byte after a string */
    mmipc::mapping m =
        req.posix.anonymous
            ? mmipc::mapping::anonymous(req.length, options)
            : mmipc::mapping::map(
                  req.fd, req.offset,
                  req.length ? std::optional<std::uint64_t>(req.length) : std::nullopt, options);
    return new region{std::move(m), !req.posix.anonymous};
  } catch (const mmipc::region_error& e) {
    using mmipc::region_problem;
    auto offset = static_cast<unsigned long long>(e.offset());
    auto length = static_cast<unsigned long long>(e.length());
    auto size = static_cast<unsigned long long>(e.file_size());
    switch (e.problem()) {
      case region_problem::offset_past_end:
      case region_problem::offset_at_end:
        /* Sys::Mmap 0.21's words. */
        describe(f, EINVAL, "mmap: offset (%llu) is at or beyond end of file (size %llu)", offset,
                 size);
        break;
      case region_problem::runs_past_end:
        describe(f, EINVAL,
                 "mmap: offset %llu plus length %llu runs beyond end of file (%llu bytes)", offset,
                 length, size);
        break;
      case region_problem::too_large:
        describe(f, EINVAL, "mmap: offset %llu or length %llu is too large", offset, length);
        break;
      case region_problem::needs_length:
      case region_problem::not_mappable: {
        /* 0.21 takes a length of 0 from fstat(): a pipe's or a device's size is 0, and its
         * words for that come first; a directory has a size, and mmap() says ENODEV. */
        struct stat st {};
        const bool sizeless = req.fd >= 0 && ::fstat(req.fd, &st) == 0 && st.st_size == 0;
        if (req.length == 0 && sizeless) {
          describe(
              f, EINVAL, "mmap: offset (%llu) is at or beyond end of file (size 0): %s", offset,
              e.problem() == region_problem::needs_length ? "a device has no size; give a length"
                                                          : "a pipe or a socket cannot be mapped");
        } else {
          syscall_failed(f, "mmap", ENODEV); /* what the kernel says for a pipe or a socket */
        }
        break;
      }
      case region_problem::zero_length:
        syscall_failed(f, "mmap", EINVAL);
        break;
    }
  } catch (const mmipc::os_error& e) {
    if (e.op() == "fstat" && req.length == 0) {
      describe(f, e.error_number(), "mmap: no len provided, fstat failed, unable to infer length");
    } else {
      syscall_failed(f, "mmap", e.error_number());
    }
  } catch (const std::bad_alloc&) {
    syscall_failed(f, "mmap", ENOMEM);
  } catch (const std::exception& e) {
    describe(f, EINVAL, "mmap: %s", e.what());
  }
  return nullptr;
}

bool register_region(region* r, failure& f) noexcept {
  if (r->map.access() == mmipc::access_mode::none) return true; /* nothing to hardwire into */
  try {
    live.add(r, r->map.base(), r->map.mapped_size());
    return true;
  } catch (const std::exception&) {
    syscall_failed(f, "mmap", ENOMEM);
  }
  return false;
}

/* msync()'s flags, decoded by the core; false for flags msync(2) refuses. */
bool decode_sync_flags(IV flags, mmipc::posix_sync_request& out) noexcept {
  try {
    out = mmipc::decode_posix_sync(flags);
    return true;
  } catch (...) {
    return false;
  }
}

bool sync_region(const region* r, std::size_t offset, std::size_t length,
                 const mmipc::posix_sync_request& how, failure& f) noexcept {
  try {
    r->map.sync(offset, length, how.mode, how.invalidate);
    return true;
  } catch (const mmipc::os_error& e) {
    describe(f, e.error_number(), "msync failed! errno %d %s", e.error_number(),
             std::strerror(e.error_number()));
  } catch (const std::exception&) {
    describe(f, EINVAL, "msync failed! errno %d %s", EINVAL, std::strerror(EINVAL));
  }
  return false;
}

/* Copies between Perl's memory and the mapped region, guarded: when another process
 * truncated the file under the mapping (EFAULT), or a page of a sparse file found no room on
 * a full disk (ENOSPC), the copy fails instead of killing Perl
 * with SIGBUS. `to_region` says which way, for the message. */
bool guarded(char* dst, const char* src, std::size_t n, bool to_region, failure& f) noexcept {
  try {
    mmipc::guarded_copy(dst, src, n, to_region ? "write" : "read");
    return true;
  } catch (const mmipc::lost_pages_error& e) {
    describe(f, e.error_number(), "Sys::Mmap: cannot %s the mapped region: %s (%s) ",
             to_region ? "write to" : "read", e.explanation(), std::strerror(e.error_number()));
  } catch (const std::exception& e) {
    describe(f, EIO, "Sys::Mmap: cannot %s the mapped region: %s ", to_region ? "write to" : "read",
             e.what());
  }
  return false;
}

bool install_guard(failure& f) noexcept {
  try {
    mmipc::install_sigbus_guard();
    return true;
  } catch (const std::exception& e) {
    describe(f, EINVAL, "Sys::Mmap: cannot install the SIGBUS guard: %s", e.what());
  }
  return false;
}

/* ---- the magic ---- */

int owner_free(pTHX_ SV* sv, MAGIC* mg);
int owner_dup(pTHX_ MAGIC* mg, CLONE_PARAMS* param);
int owner_local(pTHX_ SV* nsv, MAGIC* mg);
int shared_set(pTHX_ SV* sv, MAGIC* mg);
int shared_local(pTHX_ SV* nsv, MAGIC* mg);
int hardwire_get(pTHX_ SV* sv, MAGIC* mg);
int hardwire_free(pTHX_ SV* sv, MAGIC* mg);
int hardwire_dup(pTHX_ MAGIC* mg, CLONE_PARAMS* param);
int tie_clear(pTHX_ SV* sv, MAGIC* mg);
int tie_free(pTHX_ SV* sv, MAGIC* mg);
int unlock_set(pTHX_ SV* sv, MAGIC* mg);

/* Fields: get, set, len, clear, free, copy, dup (threads), local (`local $var`). */
const MGVTBL mmap_vtbl = {nullptr,    nullptr, nullptr,   nullptr,
                          owner_free, nullptr, owner_dup, owner_local};
const MGVTBL new_vtbl = {nullptr,    shared_set, nullptr,   nullptr,
                         owner_free, nullptr,    owner_dup, shared_local};
const MGVTBL hardwire_vtbl = {hardwire_get,  nullptr, nullptr,      nullptr,
                              hardwire_free, nullptr, hardwire_dup, owner_local};
/* PERL_MAGIC_tiedscalar on a new() variable, for `tied` and `untie`: no FETCH or STORE. The
 * clear hook only makes Perl flag the variable RMAGICAL, which is when `tied` looks. */
const MGVTBL tie_vtbl = {nullptr, nullptr, nullptr, tie_clear, tie_free, nullptr, nullptr, nullptr};
/* Put on a `local` copy of a read-only variable: its first set clears the read-only flag
 * that Perl copies from the localised variable, and removes itself. */
const MGVTBL unlock_vtbl = {nullptr, unlock_set, nullptr, nullptr,
                            nullptr, nullptr,    nullptr, nullptr};

/* mg_private bit of new_vtbl magic: an op runs on a private copy (see "ops"). */
constexpr U16 detached_for_op = 1;

region* region_of(const MAGIC* mg) {
  return reinterpret_cast<region*>(mg->mg_ptr);
}

bool is_owner(const MAGIC* mg) {
  return mg->mg_virtual != &hardwire_vtbl;
}

/* Our magic on `sv`, or null. */
MAGIC* our_magic(SV* sv) {
  if (SvTYPE(sv) < SVt_PVMG) return nullptr;
  for (MAGIC* mg = SvMAGIC(sv); mg; mg = mg->mg_moremagic) {
    if (mg->mg_type == PERL_MAGIC_ext &&
        (mg->mg_virtual == &mmap_vtbl || mg->mg_virtual == &new_vtbl ||
         mg->mg_virtual == &hardwire_vtbl)) {
      return mg;
    }
  }
  return nullptr;
}

/* The live new() magic of `sv`, or null; cheap for every other scalar. */
MAGIC* new_magic(SV* sv) {
  if (!sv || SvTYPE(sv) < SVt_PVMG || !SvSMAGICAL(sv)) return nullptr;
  for (MAGIC* mg = SvMAGIC(sv); mg; mg = mg->mg_moremagic) {
    if (mg->mg_virtual == &new_vtbl && mg->mg_type == PERL_MAGIC_ext) {
      return region_of(mg) ? mg : nullptr;
    }
  }
  return nullptr;
}

bool attached(SV* sv, const region* r);

/* The magic of a variable whose in-place edits the op guards take care of (see "ops"): a
 * new() variable, or an mmap() variable (or new()'s object) that still is its region. */
MAGIC* guarded_magic(SV* sv) {
  if (!sv || SvTYPE(sv) < SVt_PVMG || !SvMAGICAL(sv) || SvREADONLY(sv)) return nullptr;
  for (MAGIC* mg = SvMAGIC(sv); mg; mg = mg->mg_moremagic) {
    if (mg->mg_type == PERL_MAGIC_ext &&
        (mg->mg_virtual == &new_vtbl || mg->mg_virtual == &mmap_vtbl)) {
      region* r = region_of(mg);
      return r && attached(sv, r) ? mg : nullptr;
    }
  }
  return nullptr;
}

/* True when the variable's buffer is (inside) the region's pages. */
bool points_into(SV* sv, const region* r) {
  if (SvTYPE(sv) < SVt_PV || SvROK(sv) || SvLEN(sv) != 0 || SvPVX_const(sv) == nullptr) {
    return false;
  }
  auto* p = reinterpret_cast<const std::byte*>(SvPVX_const(sv));
  return p >= r->map.base() && p <= r->map.base() + r->map.mapped_size();
}

/* True when a new() variable is the region (possibly edited in place, same length). */
bool attached(SV* sv, const region* r) {
  return SvPOKp(sv) && points_into(sv, r) && SvPVX_const(sv) == r->data();
}

/* Lets go of the region: a variable still pointing into it becomes undef, so it can never
 * point at unmapped memory. The magic stays, inert, until it is removed or freed. */
void detach(pTHX_ SV* sv, MAGIC* mg) {
  region* r = region_of(mg);
  if (!r) return;
  mg->mg_ptr = nullptr;
  if (!is_owner(mg)) {
    std::lock_guard<std::mutex> lock(views_mutex);
    std::erase_if(r->views, [&](const auto& view) { return view.second == sv; });
  }
  if (points_into(sv, r)) {
    SvREADONLY_off(sv);
    SvPV_set(sv, nullptr);
    SvCUR_set(sv, 0);
    SvOK_off(sv);
  }
  release(aTHX_ r, is_owner(mg));
}

/* A variable hardwired into `r`, whose last owner is gone: undef, writable, no magic. */
void detach_orphan(pTHX_ SV* sv, region* r) {
  for (MAGIC* mg = SvMAGIC(sv); mg; mg = mg->mg_moremagic) {
    if (mg->mg_type == PERL_MAGIC_ext && mg->mg_virtual == &hardwire_vtbl && region_of(mg) == r) {
      detach(aTHX_ sv, mg);
      sv_unmagicext(sv, PERL_MAGIC_ext, const_cast<MGVTBL*>(&hardwire_vtbl));
      return;
    }
  }
  std::lock_guard<std::mutex> lock(views_mutex); /* its magic went another way */
  std::erase_if(r->views, [&](const auto& view) { return view.second == sv; });
}

int owner_free(pTHX_ SV* sv, MAGIC* mg) {
  detach(aTHX_ sv, mg);
  return 0;
}

int owner_dup(pTHX_ MAGIC* mg, CLONE_PARAMS*) {
  if (region* r = region_of(mg)) {
    r->owners.fetch_add(1);
    r->refs.fetch_add(1);
  }
  return 0;
}

/* `local $mapped` on an mmap() or hardwired variable gives it a fresh, ordinary value for the
 * scope, as on a plain scalar (without this hook Perl would copy our magic onto it
 * uncounted). Perl also copies the read-only flag of a PROT_READ variable onto the local
 * one; the unlock magic takes it off again at the localisation's set. */
int owner_local(pTHX_ SV* nsv, MAGIC*) {
  sv_magicext(nsv, nullptr, PERL_MAGIC_ext, &unlock_vtbl, nullptr, 0);
  return 0;
}

int unlock_set(pTHX_ SV* sv, MAGIC*) {
  /* mg_set() cleared the flag for the hooks and restores it only while magic remains. */
  sv_unmagicext(sv, PERL_MAGIC_ext, const_cast<MGVTBL*>(&unlock_vtbl));
  return 0;
}

int hardwire_get(pTHX_ SV* sv, MAGIC* mg) {
  region* r = region_of(mg);
  if (r && r->owners.load() == 0) {
    detach(aTHX_ sv, mg);
    /* Without magic left, mg_get() does not restore the read-only flag it cleared: the
     * variable ends undef and writable, as in the owner's thread. */
    sv_unmagicext(sv, PERL_MAGIC_ext, const_cast<MGVTBL*>(&hardwire_vtbl));
  }
  return 0;
}

int hardwire_free(pTHX_ SV* sv, MAGIC* mg) {
  detach(aTHX_ sv, mg);
  return 0;
}

int hardwire_dup(pTHX_ MAGIC* mg, CLONE_PARAMS*) {
  if (region* r = region_of(mg)) r->refs.fetch_add(1);
  return 0;
}

/* Gives up whatever buffer Perl holds in `sv` (its own, shared copy-on-write, a reference,
 * a glob) without touching mapped memory, and points it at [data, data + size). A buffer of
 * its own large enough for region `keep` goes to that region's spare. */
void point_at(pTHX_ SV* sv, char* data, STRLEN size, region* keep = nullptr) {
  if (SvROK(sv)) sv_unref_flags(sv, 0);
  if (isGV_with_GP(sv)) sv_force_normal_flags(sv, SV_COW_DROP_PV); /* an assigned glob */
  if (SvIsCOW(sv)) sv_force_normal_flags(sv, SV_COW_DROP_PV);
  if (SvTYPE(sv) < SVt_PV) sv_upgrade(sv, SVt_PV);
  if (SvPVX_const(sv) != data && SvLEN(sv) != 0) {
    /* The allocation starts before the string when Perl chopped its front (OOK). */
    STRLEN front = 0;
    if (SvOOK(sv)) SvOOK_offset(sv, front);
    char* start = SvPVX_mutable(sv) - front;
    const STRLEN capacity = SvLEN(sv) + front;
    SvFLAGS(sv) &= ~SVf_OOK;
    if (keep && capacity >= keep->size() + 1) {
      keep->give_back(start);
    } else {
      Safefree(start);
    }
  } else if (SvOOK(sv)) {
    SvFLAGS(sv) &= ~SVf_OOK;
  }
  SvPV_set(sv, data);
  SvCUR_set(sv, size);
  SvLEN_set(sv, 0);
  SvPOK_only(sv);
}

/* Writes the value Perl stored in `sv` over the start of the region, cut to its length. */
bool write_value(pTHX_ SV* sv, region* r, failure& f) {
  if (!SvOK(sv) && !isGV_with_GP(sv)) return true; /* 0.20 wrote nothing for undef */
  if (SvUTF8(sv) && !SvROK(sv)) sv_utf8_downgrade_nomg(sv, TRUE);
  STRLEN length = 0;
  const char* value = SvPV_nomg_const(sv, length);
  if (value == r->data()) return true;
  return guarded(r->data(), value, std::min(length, r->size()), true, f);
}

/* new() variables: Perl stored a value in its own buffer; write it over the start of the
 * region (cut to the region's length) and make the variable the region again. */
int shared_set(pTHX_ SV* sv, MAGIC* mg) {
  region* r = region_of(mg);
  if (!r) return 0;
  mg->mg_private &= ~detached_for_op;
  /* A same-length edit in place (substr, vec, tr) left the region as 0.20 would have. */
  const bool in_place = attached(sv, r) && !SvUTF8(sv);
  if (!in_place) {
    failure f;
    bool written = true;
    if (attached(sv, r)) {
      /* The region's bytes, read as characters (utf8::decode): stored as 0.20 stored them. */
      SV* value = sv_2mortal(newSVpvn_flags(r->data(), SvCUR(sv), SvUTF8(sv)));
      written = write_value(aTHX_ value, r, f);
    } else {
      /* Never let Perl stringify a number with the region still as its buffer: sv_grow()
       * would copy the whole region first. */
      if (points_into(sv, r)) {
        SvPV_set(sv, nullptr);
        SvCUR_set(sv, 0);
        SvPOK_off(sv);
      }
      written = write_value(aTHX_ sv, r, f);
    }
    if (!written) {
      /* The variable stays the region (what exists of it), then the assignment dies. */
      point_at(aTHX_ sv, r->data(), r->size(), r);
      fail(aTHX_ f);
    }
  }
  point_at(aTHX_ sv, r->data(), r->size(), r); /* also undoes a same-length edit's flags */
  if (r->tainted) SvTAINTED_on(sv);
  return 0;
}

/* `local $var` on a new() variable: as with 0.20's tie, the local variable is the region too
 * (an assignment writes into it), and the localised one keeps the value it had, which is
 * written back when the scope ends. */
int shared_local(pTHX_ SV* nsv, MAGIC* mg) {
  region* r = region_of(mg);
  SV* osv = mg->mg_obj;
  if (!r || !osv) return 0;
  if (attached(osv, r)) {
    char* copy = nullptr;
    Newx(copy, r->size() + 1, char);
    failure f;
    if (!guarded(copy, r->data(), r->size(), false, f)) {
      Safefree(copy);
      fail(aTHX_ f);
    }
    copy[r->size()] = '\0';
    SvPV_set(osv, copy);
    SvLEN_set(osv, r->size() + 1);
  }
  r->owners.fetch_add(1);
  r->refs.fetch_add(1);
  point_at(aTHX_ nsv, r->data(), r->size(), r);
  MAGIC* nmg = sv_magicext(nsv, nsv, PERL_MAGIC_ext, &new_vtbl, reinterpret_cast<char*>(r), 0);
  nmg->mg_flags |= MGf_DUP | MGf_LOCAL;
  if (r->tainted) SvTAINTED_on(nsv);
  return 0;
}

int tie_clear(pTHX_ SV*, MAGIC*) {
  return 0;
}

/* `untie $var` (or a new tie) on a new() variable: it becomes a plain variable holding the
 * region's bytes, and lets go of the region (unmapped now unless the object lives on). Also
 * called when the variable is freed (no references left): then there is nothing to keep. */
int tie_free(pTHX_ SV* sv, MAGIC*) {
  if (SvREFCNT(sv) == 0) return 0;
  MAGIC* mg = new_magic(sv);
  if (!mg) return 0;
  region* r = region_of(mg);
  if (attached(sv, r)) {
    failure f;
    char* copy = nullptr;
    Newx(copy, r->size() + 1, char);
    if (!guarded(copy, r->data(), r->size(), false, f)) {
      std::memset(copy, 0, r->size()); /* lost pages: the copy holds what exists as zeros */
    }
    copy[r->size()] = '\0';
    SvPV_set(sv, copy);
    SvLEN_set(sv, r->size() + 1);
  }
  /* The magic itself stays, inert (removing magic while untie removes ours is unsafe). */
  detach(aTHX_ sv, mg);
  return 0;
}

/* ---- ops that would edit a new() variable in place ----
 *
 * Perl's string ops edit the buffer they are given. For a new() variable that buffer is the
 * region, but 0.20's semantics (the edited value is written over the start of the region,
 * the rest stays) need the edit to happen on a copy. Those ops run through guarded_pp():
 * before the original op it gives each new() variable the op would edit a private copy of
 * the region ("copy") or, when the op only overwrites it, an empty buffer ("drop": an
 * assignment neither reads nor copies the region, so it costs what the value costs and a
 * truncated file cannot kill it). The set hook writes the result back; an op that ends
 * without setting (no match, a croak) leaves the region as it was. Ops compiled before the
 * module was loaded keep Perl's own code. */

enum class action { none, drop, copy };

struct op_target {
  SV* sv;
  MAGIC* mg;
  action what;
  bool raw; /* an mmap() variable: no set hook */
};

struct op_targets {
  op_target items[8];
  int count = 0;
  /* More targets than fit: the op runs on copies of all we noted; the rest keep Perl's code. */
  void add(SV* sv, MAGIC* mg, action what) {
    for (int i = 0; i < count; ++i) {
      if (items[i].sv == sv) {
        if (what == action::copy) items[i].what = action::copy;
        return;
      }
    }
    if (count < static_cast<int>(std::size(items))) {
      items[count++] = {sv, mg, what, mg->mg_virtual == &mmap_vtbl};
    }
  }
};

Perl_ppaddr_t original_pp[MAXO];

#ifdef OPpMULTICONCAT_APPEND
constexpr int multiconcat_type = OP_MULTICONCAT;
#else
constexpr int multiconcat_type = -1; /* no multiconcat before Perl 5.28 */
#endif

/* The new() variable behind `sv`: itself, or the target of a substr()/vec() lvalue. */
SV* variable_behind(SV* sv, bool* through_lvalue) {
  *through_lvalue = false;
  if (sv && SvTYPE(sv) == SVt_PVLV && (LvTYPE(sv) == 'x' || LvTYPE(sv) == 'v') && LvTARG(sv)) {
    *through_lvalue = true;
    return LvTARG(sv);
  }
  return sv;
}

/* A substr() lvalue `lv` getting `value`: true when it replaces bytes by as many bytes, which
 * Perl does in place and which gives 0.20's result. */
bool same_length_substr(SV* lv, SV* value, SV* target) {
  if (LvTYPE(lv) != 'x' || (LvFLAGS(lv) & (LVf_NEG_OFF | LVf_NEG_LEN))) return false;
  if (!value || SvGMAGICAL(value) || !SvPOK(value) || SvUTF8(value) || SvUTF8(target)) return false;
  return SvCUR(value) == LvTARGLEN(lv) && LvTARGOFF(lv) <= SvCUR(target) &&
         LvTARGLEN(lv) <= SvCUR(target) - LvTARGOFF(lv);
}

/* The same for 4-argument substr(target, pos, len, repl). */
bool same_length_replacement(SV* target, SV* pos, SV* len, SV* repl) {
  if (!pos || !len || !repl || SvUTF8(target)) return false;
  for (SV* sv : {pos, len}) {
    if (SvGMAGICAL(sv) || !SvIOK(sv) || SvIsUV(sv)) return false;
  }
  if (SvGMAGICAL(repl) || !SvPOK(repl) || SvUTF8(repl)) return false;
  const IV p = SvIVX(pos), l = SvIVX(len);
  const IV cur = static_cast<IV>(SvCUR(target));
  if (p < 0 || l < 0 || p > cur || l > cur - p) return false;
  return static_cast<IV>(SvCUR(repl)) == l;
}

void note(op_targets& t, SV* sv, action what) {
  bool through_lvalue = false;
  SV* var = variable_behind(sv, &through_lvalue);
  if (MAGIC* mg = guarded_magic(var)) t.add(var, mg, through_lvalue ? action::copy : what);
}

bool on_stack(SV* sv, SV** first, SV** last) {
  for (SV** p = first; p <= last; ++p) {
    if (*p == sv) return true;
  }
  return false;
}

/* The targets of each kind of op that may edit a new() variable (find_targets dispatches):
 * `sp` and `base` are Perl's stack pointer and base as the op is about to run. */

/* $var = value, or an lvalue (substr, vec) = value. */
void assign_targets(op_targets& t, const OP* op, SV** sp) {
  const bool backwards = op->op_private & OPpASSIGN_BACKWARDS;
  SV* dest = backwards ? sp[-1] : sp[0];
  SV* value = backwards ? sp[0] : sp[-1];
  bool through_lvalue = false;
  SV* var = variable_behind(dest, &through_lvalue);
  if (var == value || !guarded_magic(var)) return;
  if (through_lvalue) {
    if (LvTYPE(dest) == 'v' || same_length_substr(dest, value, var)) return;
    note(t, dest, action::copy);
  } else {
    note(t, dest, action::drop);
  }
}

/* (list) = (list): a variable also on the right is copied, else dropped. */
void list_assign_targets(pTHX_ op_targets& t, SV** sp, SV** base) {
  SV** first_right = base + PL_markstack_ptr[-1] + 1;
  SV** last_right = base + PL_markstack_ptr[0];
  for (SV** p = last_right + 1; p <= sp; ++p) {
    if (*p && guarded_magic(*p)) {
      note(t, *p, on_stack(*p, first_right, last_right) ? action::copy : action::drop);
    } else if (*p && SvTYPE(*p) == SVt_PVLV) {
      note(t, *p, action::copy);
    }
  }
}

/* s///, unless /r. */
void subst_targets(pTHX_ op_targets& t, const OP* op, SV** sp) {
  const U32 pmflags = cPMOPx(op)->op_pmflags;
  if (pmflags & PMf_NONDESTRUCT) return;
  /* A constant replacement lies on top of the target (pp_subst pops it first). */
  SV** stacked = (pmflags & PMf_CONST) ? sp - 1 : sp;
  note(t,
       (op->op_flags & OPf_STACKED) ? *stacked
       : op->op_targ                ? PAD_SV(op->op_targ)
                                    : DEFSV,
       action::copy);
}

/* tr///, unless it changes nothing or translates byte for byte in place. */
void trans_targets(pTHX_ op_targets& t, const OP* op, SV** sp) {
  const U8 priv = op->op_private;
  if ((priv & OPpTRANS_IDENTICAL) && !(priv & (OPpTRANS_DELETE | OPpTRANS_SQUASH))) return;
  SV* sv = (op->op_flags & OPf_STACKED) ? sp[0] : op->op_targ ? PAD_SV(op->op_targ) : DEFSV;
  bool through_lvalue = false;
  SV* var = variable_behind(sv, &through_lvalue);
  /* A byte-for-byte translation edits in place with 0.20's result. */
  if (!through_lvalue && !SvUTF8(var) &&
      !(priv & (OPpTRANS_DELETE | OPpTRANS_SQUASH | OPpTRANS_FROM_UTF | OPpTRANS_TO_UTF |
                OPpTRANS_GROWS))) {
    return;
  }
  note(t, sv, action::copy);
}

/* chop/chomp of a list: each scalar, and each element of each array. */
void chop_targets(pTHX_ op_targets& t, SV** sp, SV** base) {
  for (SV** p = base + PL_markstack_ptr[0] + 1; p <= sp; ++p) {
    if (*p && SvTYPE(*p) == SVt_PVAV) {
      AV* av = reinterpret_cast<AV*>(*p);
      if (!SvRMAGICAL(av)) {
        for (SSize_t i = 0; i <= AvFILLp(av); ++i) {
          if (AvARRAY(av)[i]) note(t, AvARRAY(av)[i], action::copy);
        }
      }
    } else if (*p) {
      note(t, *p, action::copy);
    }
  }
}

/* 4-argument substr(), unless it replaces bytes by as many bytes. */
void substr_targets(op_targets& t, const OP* op, SV** sp) {
  const U8 priv = op->op_private;
  const int args = priv & 7;
  int at = 0;
  SV *repl = nullptr, *len = nullptr;
  if (args > 3) repl = sp[-at++];
  if (args > 2) len = sp[-at++];
  SV* pos = sp[-at++];
  SV* sv = sp[-at++];
  if (priv & OPpSUBSTR_REPL_FIRST) repl = sp[-at];
  if (!repl || !guarded_magic(sv)) return;
  if (same_length_replacement(sv, pos, len, repl)) return;
  note(t, sv, action::copy);
}

/* Ops that store their result straight into a lexical (`my $v; $v = $a . $b`). */
void lexical_target(pTHX_ op_targets& t, const OP* op, SV** sp, SV** base) {
  const U8 priv = op->op_private;
  if (!(PL_opargs[op->op_type] & OA_TARGLEX) || !(priv & OPpTARGET_MY) || !op->op_targ) return;
  SV* targ = PAD_SV(op->op_targ);
  if (!guarded_magic(targ)) return;
  bool operand = false;
#ifdef OPpMULTICONCAT_APPEND
  operand = op->op_type == OP_MULTICONCAT && (priv & OPpMULTICONCAT_APPEND);
#endif
  SV** first = (PL_opargs[op->op_type] & OA_MARK) ? base + PL_markstack_ptr[0] + 1 : sp - 1;
  operand = operand || on_stack(targ, std::max(first, base + 1), sp);
  note(t, targ, operand ? action::copy : action::drop);
}

/* Which new() variables the current op would edit, and how to prepare each. */
void find_targets(pTHX_ op_targets& t) {
  const OP* op = PL_op;
  SV** sp = PL_stack_sp;
  SV** base = PL_stack_base;
  switch (op->op_type) {
    case OP_SASSIGN:
      assign_targets(t, op, sp);
      break;
    case OP_AASSIGN:
      list_assign_targets(aTHX_ t, sp, base);
      break;
    case OP_SUBST:
      subst_targets(aTHX_ t, op, sp);
      break;
    case OP_TRANS:
      trans_targets(aTHX_ t, op, sp);
      break;
    case OP_SCHOP:
    case OP_SCHOMP:
      note(t, sp[0], action::copy);
      break;
    case OP_CHOP:
    case OP_CHOMP:
      chop_targets(aTHX_ t, sp, base);
      break;
    case OP_SUBSTR:
      substr_targets(t, op, sp);
      break;
#ifdef OPpMULTICONCAT_APPEND /* Perl 5.28 and later */
    case OP_MULTICONCAT:
      /* `expr = a . b` with a non-lexical target on top of its operands. (`expr .= ...` only
       * appends: Perl copies the variable first anyway, and a new() variable keeps its region
       * as it is.) */
      if ((op->op_flags & OPf_STACKED) && !(op->op_private & OPpMULTICONCAT_APPEND)) {
        const SSize_t nargs = cUNOP_AUXx(op)->op_aux[PERL_MULTICONCAT_IX_NARGS].ssize;
        note(t, sp[0],
             on_stack(sp[0], std::max(sp - nargs, base + 1), sp - 1) ? action::copy : action::drop);
      }
      break;
#endif
    case OP_REPEAT:
      if (op->op_flags & OPf_STACKED) note(t, sp[-1], action::copy);
      break;
    case OP_SYSREAD:
    case OP_READ:
    case OP_RECV:
      if (base + PL_markstack_ptr[0] + 2 <= sp)
        note(t, base[PL_markstack_ptr[0] + 2], action::copy);
      break;
    default:
      break;
  }
  lexical_target(aTHX_ t, op, sp, base);
}

/* Prepares one target: a private copy of the region, or an empty buffer. */
void detach_for(pTHX_ const op_target& t) {
  region* r = region_of(t.mg);
  if (t.what == action::drop) {
    SvPV_set(t.sv, nullptr);
    SvCUR_set(t.sv, 0);
    SvLEN_set(t.sv, 0);
    SvPOK_off(t.sv);
  } else {
    char* copy = r->take_buffer();
    failure f;
    if (!guarded(copy, r->data(), r->size(), false, f)) {
      r->give_back(copy);
      fail(aTHX_ f);
    }
    copy[r->size()] = '\0';
    SvPV_set(t.sv, copy);
    SvLEN_set(t.sv, r->size() + 1);
  }
  t.mg->mg_private |= detached_for_op;
}

/* After the op: a target the op did not set is the region again, unchanged. */
void reattach(pTHX_ const op_target& t) {
  if (!(t.mg->mg_private & detached_for_op)) return;
  t.mg->mg_private &= ~detached_for_op;
  if (region* r = region_of(t.mg)) {
    point_at(aTHX_ t.sv, r->data(), r->size(), r);
    if (r->tainted) SvTAINTED_on(t.sv);
  }
}

/* After the op, for an mmap() variable: as the seed says, an edit that keeps the length is
 * made in the mapped memory, and one that changes it gives the variable storage of its own
 * (the file keeps its bytes). Perl made the edit on a copy; a copy of the same length is
 * written back. An op that died, or an s///e still running, leaves the region as it was. */
bool finish_raw(pTHX_ const op_target& t, bool completed, failure& f) {
  if (!(t.mg->mg_private & detached_for_op)) return true;
  t.mg->mg_private &= ~detached_for_op;
  region* r = region_of(t.mg);
  if (!r) return true;
  SV* sv = t.sv;
  if (!completed) {
    point_at(aTHX_ sv, r->data(), r->size(), r);
  } else if (t.what == action::copy && SvPOK(sv) && !SvROK(sv) && !SvUTF8(sv) &&
             SvCUR(sv) == r->size() && SvPVX_const(sv) != r->data()) {
    const bool written = guarded(r->data(), SvPVX_const(sv), r->size(), true, f);
    point_at(aTHX_ sv, r->data(), r->size(), r);
    if (!written) return false;
  } else {
    return true; /* the variable keeps the storage the op gave it */
  }
  if (r->tainted) SvTAINTED_on(sv);
  return true;
}

OP* guarded_pp(pTHX) {
  op_targets targets;
  find_targets(aTHX_ targets);
  const OPCODE type = PL_op->op_type;
  if (targets.count == 0) return original_pp[type](aTHX);

  for (int i = 0; i < targets.count; ++i) SvREFCNT_inc_simple_void_NN(targets.items[i].sv);
  volatile int prepared = 0;
  OP* volatile next = nullptr;
  const OP* op = PL_op;
  int caught = 0;
  dJMPENV;
  JMPENV_PUSH(caught);
  if (caught == 0) {
    for (int i = 0; i < targets.count; ++i) {
      detach_for(aTHX_ targets.items[i]);
      prepared = i + 1;
    }
    next = original_pp[type](aTHX);
  }
  JMPENV_POP;
  /* s///e goes on in its replacement code: substcont sets the variable when it is done. */
  const bool finished = !(type == OP_SUBST && caught == 0 && next != op->op_next);
  failure f;
  bool written = true;
  for (int i = 0; i < targets.count; ++i) {
    const op_target& t = targets.items[i];
    if (i < prepared) {
      if (t.raw) {
        written = finish_raw(aTHX_ t, caught == 0 && finished, f) && written;
      } else if (finished) {
        reattach(aTHX_ t);
      }
    }
  }
  for (int i = 0; i < targets.count; ++i) SvREFCNT_dec(targets.items[i].sv);
  if (caught) JMPENV_JUMP(caught);
  if (!written) fail(aTHX_ f);
  return next;
}

/* Routes the ops above through guarded_pp() for every op compiled from now on. */
void install_op_guards(pTHX) {
  static std::once_flag once;
  std::call_once(once, [&] {
    OP_CHECK_MUTEX_LOCK;
    for (int type = 0; type < MAXO; ++type) {
      original_pp[type] = PL_ppaddr[type];
      const bool wanted =
          type == OP_SASSIGN || type == OP_AASSIGN || type == OP_SUBST || type == OP_TRANS ||
          type == OP_SCHOP || type == OP_SCHOMP || type == OP_CHOP || type == OP_CHOMP ||
          type == OP_SUBSTR || type == OP_REPEAT || type == OP_SYSREAD || type == OP_READ ||
          type == OP_RECV || type == multiconcat_type || (PL_opargs[type] & OA_TARGLEX);
      if (wanted) PL_ppaddr[type] = guarded_pp;
    }
    OP_CHECK_MUTEX_UNLOCK;
  });
}

/* ---- argument conversion ---- */

enum class number { ok, undef, not_a_number, negative };

/* A non-negative integer argument; undef gives 0 and number::undef. Never warns. */
number to_size(pTHX_ SV* sv, std::uint64_t* out) {
  *out = 0;
  SvGETMAGIC(sv);
  if (!SvOK(sv)) return number::undef;
  if (!looks_like_number(sv)) return number::not_a_number;
  if (SvIOK(sv) && SvIsUV(sv)) {
    *out = SvUV_nomg(sv);
    return number::ok;
  }
  const NV value = SvNV_nomg(sv);
  if (value != value) return number::not_a_number;
  if (value < 0) return number::negative;
  if (SvIOK(sv)) {
    *out = static_cast<std::uint64_t>(SvIV_nomg(sv));
  } else {
    *out = value >= 18446744073709551616.0 ? UINT64_MAX : static_cast<std::uint64_t>(value);
  }
  return number::ok;
}

std::uint64_t mmap_size(pTHX_ SV* sv, const char* what) {
  std::uint64_t value = 0;
  switch (to_size(aTHX_ sv, &value)) {
    case number::ok:
    case number::undef:
      return value;
    case number::not_a_number:
      fail(aTHX_ EINVAL, "mmap: %s is not a number (%s) ", what, SvPV_nolen(sv));
    case number::negative:
      fail(aTHX_ EINVAL, "mmap: Cannot operate on a negative %s (%s) ", what, SvPV_nolen(sv));
  }
  return value;
}

IV mmap_flags(pTHX_ SV* sv, const char* what) {
  SvGETMAGIC(sv);
  if (!SvOK(sv)) return 0;
  if (!looks_like_number(sv))
    fail(aTHX_ EINVAL, "mmap: %s is not a number (%s) ", what, SvPV_nolen(sv));
  return SvIV_nomg(sv);
}

/* The descriptor behind a handle (glob, glob reference, IO object or handle name), or -1:
 * never dies on a closed, fake or in-memory handle (the original crashed there). */
int fd_of(pTHX_ SV* sv) {
  SvGETMAGIC(sv);
  IO* io = nullptr;
  if (SvROK(sv)) {
    SV* target = SvRV(sv);
    if (isGV_with_GP(target))
      io = GvIO(reinterpret_cast<GV*>(target));
    else if (SvTYPE(target) == SVt_PVIO)
      io = reinterpret_cast<IO*>(target);
  } else if (isGV_with_GP(sv)) {
    io = GvIO(reinterpret_cast<GV*>(sv));
  } else if (SvPOK(sv) && SvCUR(sv) > 0) {
    if (GV* gv = gv_fetchsv_nomg(sv, 0, SVt_PVIO)) io = GvIO(gv);
  }
  if (!io || !IoIFP(io)) return -1;
  return PerlIO_fileno(IoIFP(io));
}

/* A hash or array element that does not exist yet reaches an XSUB as a proxy (a "deferred
 * element", also what `$_[0]` is inside a sub called with one). The element is created and
 * returned; `proxy` receives the proxy, which is then mapped too, so that writes through
 * either name reach the memory. */
SV* target_of(pTHX_ SV* var, bool vivify, SV** proxy) {
  *proxy = nullptr;
  if (SvTYPE(var) == SVt_PVLV && LvTYPE(var) == 'y') {
    if (vivify) Perl_vivify_defelem(aTHX_ var); /* no-op once it exists */
    if (!LvTARGLEN(var) && LvTARG(var)) {
      *proxy = var;
      return LvTARG(var);
    }
  }
  return var;
}

/* Dies unless `var` can be made to hold a mapping. */
void check_variable(pTHX_ SV* var, const char* op) {
  MAGIC* ours = our_magic(var);
  if (SvREADONLY(var) && !(ours && region_of(ours) && points_into(var, region_of(ours)))) {
    fail(aTHX_ EINVAL, "%s", PL_no_modify);
  }
  if (SvTYPE(var) > SVt_PVMG) fail(aTHX_ EINVAL, "%s: variable is not a plain scalar", op);
  if (SvRMAGICAL(var)) {
    MAGIC* tie = mg_find(var, PERL_MAGIC_tiedscalar);
    if (tie && tie->mg_virtual != &tie_vtbl) fail(aTHX_ EINVAL, "%s: variable is tied", op);
  }
}

/* Removes every mapping `var` holds (undef if it pointed into one), and our tie magic. */
void drop_mapping(pTHX_ SV* var) {
  while (MAGIC* mg = our_magic(var)) {
    detach(aTHX_ var, mg);
    sv_unmagicext(var, PERL_MAGIC_ext, const_cast<MGVTBL*>(mg->mg_virtual));
  }
  if (SvRMAGICAL(var)) sv_unmagicext(var, PERL_MAGIC_tiedscalar, const_cast<MGVTBL*>(&tie_vtbl));
}

/* Makes `var` hold (a view of) region `r`; the caller has counted the reference. */
void attach(pTHX_ SV* var, region* r, const MGVTBL* vtbl, char* data, STRLEN size) {
  drop_mapping(aTHX_ var);
  if (SvTYPE(var) == SVt_PVLV && LvTYPE(var) == 'y') {
    /* A deferred element's proxy stops being one: it is a name for the mapping now. */
    sv_unmagic(var, PERL_MAGIC_defelem);
  }
  if (r->map.access() == mmipc::access_mode::none) {
    sv_setpvn(var, "", 0); /* PROT_NONE pages cannot be read: expose none of them */
  } else {
    point_at(aTHX_ var, data, size);
  }
  /* new() magic knows its variable (for `local`); not counted, so no cycle. */
  MAGIC* mg = sv_magicext(var, vtbl == &new_vtbl ? var : nullptr, PERL_MAGIC_ext, vtbl,
                          reinterpret_cast<const char*>(r), 0);
  mg->mg_flags |= MGf_DUP | MGf_LOCAL;
  if (vtbl == &hardwire_vtbl) {
    std::lock_guard<std::mutex> lock(views_mutex);
    try {
      r->views.emplace_back(static_cast<void*>(aTHX), var);
    } catch (...) {
      /* Out of memory: this variable notices on its next read instead. */
    }
  }
  /* After ours, so that on assignment Perl's taint hook runs first and ours re-taints. */
  if (r->tainted) SvTAINTED_on(var);
  if (!r->map.writable()) SvREADONLY_on(var);
}

/* One more owner of `r`: `var` (a new() proxy, an object's inner scalar). */
void attach_owner(pTHX_ SV* var, region* r, const MGVTBL* vtbl) {
  r->owners.fetch_add(1);
  r->refs.fetch_add(1);
  attach(aTHX_ var, r, vtbl, r->data(), r->size());
}

/* mmap() and new(): converts the arguments, maps, and makes `var` the mapping. */
region* do_mmap(pTHX_ SV* var, SV* len_sv, SV* prot_sv, SV* flags_sv, SV* fh, SV* off_sv,
                const MGVTBL* vtbl) {
  SV* proxy = nullptr;
  var = target_of(aTHX_ var, true, &proxy);
  check_variable(aTHX_ var, "mmap");
  std::uint64_t offset = 0;
  if (off_sv && SvTRUE(off_sv)) offset = mmap_size(aTHX_ off_sv, "offset");
  const std::uint64_t length = mmap_size(aTHX_ len_sv, "length");
  const IV prot = mmap_flags(aTHX_ prot_sv, "protection");
  const IV flags = mmap_flags(aTHX_ flags_sv, "flags");

  request req{};
  req.offset = offset;
  req.length = length;
  req.fd = -1;
  if (flags & MAP_ANONYMOUS) {
    if (length == 0) {
      fail(aTHX_ EINVAL,
           "mmap: MAP_ANON specified, but no length specified. cannot infer length from file");
    }
    req.offset = 0;
  } else {
    req.fd = fd_of(aTHX_ fh);
    if (req.fd < 0) fail(aTHX_ EBADF, "mmap: file not open or does not have associated fileno");
  }

  failure f;
  bool decoded = false;
  try {
    req.posix = mmipc::decode_posix_map(prot, flags);
    decoded = true;
  } catch (const std::exception&) {
    syscall_failed(f, "mmap", EINVAL); /* what the kernel says to such flags */
  }
  if (!decoded) fail(aTHX_ f);

  region* r = make_region(req, f);
  if (!r) fail(aTHX_ f);
  if (!register_region(r, f)) {
    delete r;
    fail(aTHX_ f);
  }
  attach(aTHX_ var, r, vtbl, r->data(), r->size());
  if (proxy) attach_owner(aTHX_ proxy, r, vtbl);
  return r;
}

/* The region a Sys::Mmap object (a reference to its inner scalar) stands for. */
region* region_of_object(pTHX_ SV* self) {
  if (SvROK(self)) {
    if (MAGIC* mg = our_magic(SvRV(self))) return region_of(mg);
  }
  return nullptr;
}

struct constant {
  const char* name;
  IV value;
};

const constant constants[] = {
    {"MAP_ANON", MAP_ANONYMOUS},
    {"MAP_ANONYMOUS", MAP_ANONYMOUS},
    {"MAP_FILE", MAP_FILE},
    {"MAP_LOCKED", MAP_LOCKED},
    {"MAP_PRIVATE", MAP_PRIVATE},
    {"MAP_SHARED", MAP_SHARED},
    {"MAP_NORESERVE", MAP_NORESERVE},
    {"MAP_POPULATE", MAP_POPULATE},
    {"MAP_HUGETLB", MAP_HUGETLB},
    {"MAP_HUGE_2MB", MAP_HUGE_2MB},
    {"MAP_HUGE_1GB", MAP_HUGE_1GB},
    {"PROT_EXEC", PROT_EXEC},
    {"PROT_NONE", PROT_NONE},
    {"PROT_READ", PROT_READ},
    {"PROT_WRITE", PROT_WRITE},
    {"MS_ASYNC", MS_ASYNC},
    {"MS_SYNC", MS_SYNC},
    {"MS_INVALIDATE", MS_INVALIDATE},
};

}  // namespace

/* The XS part below is xsubpp's language, not C++: `make format` leaves it as written. */
/* clang-format off */

MODULE = Sys::Mmap    PACKAGE = Sys::Mmap

PROTOTYPES: DISABLE

BOOT:
{
  HV* stash = gv_stashpv("Sys::Mmap", GV_ADD);
  for (const constant& c : constants) newCONSTSUB(stash, c.name, newSViv(c.value));
  install_op_guards(aTHX);
  /* The SIGBUS guard of the module's copies, in place before scripts set $SIG{BUS}. */
  failure f;
  if (!install_guard(f)) fail(aTHX_ f);
}

SV*
mmap(...)
  PROTOTYPE: $$$$*;$
  CODE:
    /* The original's usage, word for word (its typemap made five or six arguments). */
    if (items < 5 || items > 6) usage(aTHX_ cv, "var, len, prot, flags, fh = 0, off_string");
    {
      region* r = do_mmap(aTHX_ ST(0), ST(1), ST(2), ST(3), ST(4), items > 5 ? ST(5) : nullptr,
                          &mmap_vtbl);
      /* As 0.20 and 0.21: the page-aligned start of the mapping (the variable's data is at
       * that address plus the offset's distance from its page). */
      RETVAL = newSVuv(PTR2UV(r->map.base()));
    }
  OUTPUT:
    RETVAL

SV*
_map_object(klass, len, fh)
    SV* klass
    SV* len
    SV* fh
  CODE:
    {
      /* tie's object: a blessed reference to an inner scalar mapped over the region. */
      SV* flags = sv_2mortal(newSViv(MAP_SHARED | (SvOK(fh) ? 0 : MAP_ANONYMOUS)));
      SV* prot = sv_2mortal(newSViv(PROT_READ | PROT_WRITE));
      SV* object = sv_2mortal(sv_bless(newRV_noinc(newSV(0)), gv_stashsv(klass, GV_ADD)));
      do_mmap(aTHX_ SvRV(object), len, prot, flags, fh, nullptr, &mmap_vtbl);
      RETVAL = SvREFCNT_inc_simple_NN(object);
    }
  OUTPUT:
    RETVAL

SV*
_map_new(klass, var, len, fh)
    SV* klass
    SV* var
    SV* len
    SV* fh
  CODE:
    {
      SV* flags = sv_2mortal(newSViv(MAP_SHARED | (SvOK(fh) ? 0 : MAP_ANONYMOUS)));
      SV* prot = sv_2mortal(newSViv(PROT_READ | PROT_WRITE));
      SV* object = sv_2mortal(sv_bless(newRV_noinc(newSV(0)), gv_stashsv(klass, GV_ADD)));
      region* r = do_mmap(aTHX_ var, len, prot, flags, fh, nullptr, &new_vtbl);
      /* The object is a blessed reference to an inner scalar mapped over the same region,
       * as 0.20's; `tied` finds it through our tie magic. */
      attach_owner(aTHX_ SvRV(object), r, &mmap_vtbl);
      SV* proxy = nullptr;
      SV* element = target_of(aTHX_ var, false, &proxy);
      for (SV* named : {element, proxy}) {
        if (named && new_magic(named)) {
          sv_magicext(named, object, PERL_MAGIC_tiedscalar, &tie_vtbl, nullptr, 0);
        }
      }
      RETVAL = SvREFCNT_inc_simple_NN(object);
    }
  OUTPUT:
    RETVAL

SV*
STORE(self, value)
    SV* self
    SV* value
  CODE:
    {
      /* 0.20's STORE: the value over the start of the region (cut to it), returning the
       * region's contents. */
      region* r = region_of_object(aTHX_ self);
      if (!r) fail(aTHX_ EINVAL, "Sys::Mmap::STORE: the object holds no mapping");
      SV* copy = sv_2mortal(newSVsv(value));
      failure f;
      if (!write_value(aTHX_ copy, r, f)) fail(aTHX_ f);
      RETVAL = newSVpvn(r->data(), r->size());
    }
  OUTPUT:
    RETVAL

SV*
munmap(...)
  PROTOTYPE: $
  CODE:
    if (items != 1) usage(aTHX_ cv, "var");
    {
      SV* var = ST(0);
      SV* proxy = nullptr;
      var = target_of(aTHX_ var, false, &proxy);
      MAGIC* mg = our_magic(var);
      if (mg && !is_owner(mg)) hardwire_get(aTHX_ var, mg); /* is its mapping still there? */
      mg = our_magic(var);
      if (mg && region_of(mg)) {
        drop_mapping(aTHX_ var);
        SvREADONLY_off(var);
        sv_set_undef(var);
      } else {
        /* The original's checks and words, in its order (no get magic: a substr() lvalue
         * is undef here, as it was there). */
        if (!SvOK(var)) fail(aTHX_ EINVAL, "undef variable not unmappable");
        if (SvTYPE(var) < SVt_PV || SvTYPE(var) > SVt_PVMG) {
          fail(aTHX_ EINVAL, "variable is not a string, type is: %d", static_cast<int>(SvTYPE(var)));
        }
        /* Never hand munmap() an address Perl owns: the original unmapped heap pages here. */
        fail(aTHX_ EINVAL, "munmap failed! errno %d %s", EINVAL, std::strerror(EINVAL));
      }
      RETVAL = newSViv(1);
    }
  OUTPUT:
    RETVAL

SV*
msync(...)
  PROTOTYPE: $;$
  CODE:
    if (items < 1 || items > 2) usage(aTHX_ cv, "var, flags = MS_SYNC");
    {
      SV* var = ST(0);
      const IV flags = items > 1 ? SvIV(ST(1)) : MS_SYNC;
      SV* proxy = nullptr;
      var = target_of(aTHX_ var, false, &proxy);
      MAGIC* mg = our_magic(var);
      if (mg && !is_owner(mg)) hardwire_get(aTHX_ var, mg);
      mg = our_magic(var);
      region* r = mg ? region_of(mg) : nullptr;
      if (!r) {
        /* The upstream module's words. */
        if (!SvOK(var)) fail(aTHX_ EINVAL, "msync: variable is not defined");
        if (SvTYPE(var) < SVt_PV || SvTYPE(var) > SVt_PVMG || SvROK(var)) {
          fail(aTHX_ EINVAL, "msync: variable is not a string, type is: %d", static_cast<int>(SvTYPE(var)));
        }
        fail(aTHX_ EINVAL, "msync: variable does not appear to be mmap'd");
      }
      mmipc::posix_sync_request how;
      if (!decode_sync_flags(flags, how)) {
        fail(aTHX_ EINVAL, "msync failed! errno %d %s", EINVAL, std::strerror(EINVAL));
      }
      std::size_t offset = 0, length = r->size();
      if (!is_owner(mg) && points_into(var, r)) {
        offset = static_cast<std::size_t>(SvPVX_const(var) - r->data());
        length = SvCUR(var);
      }
      failure f;
      if (!sync_region(r, offset, length, how, f)) fail(aTHX_ f);
      RETVAL = newSViv(1);
    }
  OUTPUT:
    RETVAL

SV*
hardwire(...)
  PROTOTYPE: $$$
  CODE:
    if (items != 3) usage(aTHX_ cv, "var, addr, len");
    {
      SV* var = ST(0);
      SV* addr = ST(1);
      SV* len = ST(2);
      SV* proxy = nullptr;
      var = target_of(aTHX_ var, true, &proxy);
      check_variable(aTHX_ var, "hardwire");
      MAGIC* mg = our_magic(var);
      if (mg && is_owner(mg) && region_of(mg)) {
        fail(aTHX_ EINVAL, "hardwire: variable holds a mapping of its own; munmap it first");
      }
      std::uint64_t at = 0, size = 0;
      if (to_size(aTHX_ addr, &at) != number::ok) {
        if (!SvOK(addr) || !looks_like_number(addr)) fail(aTHX_ EINVAL, "hardwire: address is not a number");
        fail(aTHX_ EINVAL, "hardwire: address is not inside a live mapping made by Sys::Mmap");
      }
      if (to_size(aTHX_ len, &size) != number::ok) {
        fail(aTHX_ EINVAL, "hardwire: length is not a non-negative number");
      }
      auto* r = static_cast<region*>(const_cast<void*>(
          live.find(static_cast<std::uintptr_t>(at), static_cast<std::size_t>(size), keep_region)));
      if (!r) {
        fail(aTHX_ EINVAL,
             "hardwire: address %#llx length %llu is not inside a live mapping made by Sys::Mmap",
             static_cast<unsigned long long>(at), static_cast<unsigned long long>(size));
      }
      attach(aTHX_ var, r, &hardwire_vtbl, INT2PTR(char*, at), static_cast<STRLEN>(size));
      RETVAL = newSViv(1);
    }
  OUTPUT:
    RETVAL
