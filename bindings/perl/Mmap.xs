/* Sys::Mmap: the Perl glue over mmipc::mapping (compiled as C++20).
 *
 * The core maps; this file only converts Perl arguments, calls it and reports errors. A
 * mapped variable is an ordinary string whose buffer is the mapped memory (SvLEN 0, so Perl
 * never frees or reallocates it in place) plus one piece of our own variable magic
 * (PERL_MAGIC_ext, as File::Map does) that owns the mapping:
 *
 *   - mmap() variables: no get or set hook at all, so every read costs what it costs on any
 *     string; the magic only unmaps when the variable is freed and is copied into threads.
 *   - new() variables: a set hook writes whatever Perl stored over the start of the region
 *     and points the variable back at it, which replaces the original's tie().
 *   - hardwire() variables: a get hook that turns the variable undef once every owner of
 *     its mapping is gone. They hold a reference, so the memory stays mapped until they have
 *     noticed: a hardwired variable never points at unmapped memory.
 *
 * A mapping is a `region` on the C++ heap shared by every interpreter (threads clone
 * variables, not memory), counted atomically; svt_dup counts the clones, so the region is
 * unmapped once, by whichever variable lets go last.
 *
 * Errors: C++ work happens in small noexcept functions that return a plain `failure`; the
 * XSUBs croak through fail() only once no C++ object is alive (croak longjmps past
 * destructors). */

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"

#define PERL_NO_GET_CONTEXT
/* Perl's own headers use C idioms C++20 deprecates (volatile parameters). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"
#pragma GCC diagnostic pop

/* glibc's <sys/mman.h> does not define these (the original module lacked them for that
 * reason); the values are the kernel's: log2(page size) << MAP_HUGE_SHIFT. */
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_MASK
#define MAP_HUGE_MASK 0x3f
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
  bool tainted;                   /* file data: tainted under -T */
  std::atomic<long> owners{1};    /* mmap()/new() variables, in every interpreter */
  std::atomic<long> refs{1};      /* owners plus hardwired variables */
  /* Variables hardwired into the region, with their interpreter (guarded by registry_mutex):
   * made undef as soon as the last owner lets go, outside any magic callback, because a get
   * hook cannot make a variable writable again (Perl restores SvREADONLY after the hook). */
  std::vector<std::pair<void*, SV*>> views{};
};

/* Regions that still have an owner: what hardwire() may point into. */
std::mutex registry_mutex;
std::vector<region*> registry;

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

void add_to_registry(region* r) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex);
  try {
    registry.push_back(r);
  } catch (...) {
    /* Out of memory: the region just cannot be hardwired into. */
  }
}

void forget_view(region* r, SV* sv) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::erase_if(r->views, [&](const auto& view) { return view.second == sv; });
}

void detach_orphan(pTHX_ SV* sv, region* r);

/* Drops one reference (and one owner when `owner`); the last one unmaps. When the last owner
 * goes, the variables of this interpreter hardwired into the region become undef now (those
 * cloned into other threads notice on their next read). */
void release(pTHX_ region* r, bool owner) noexcept {
  bool last = false;
  if (owner) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    last = r->owners.fetch_sub(1) == 1;
    if (last) std::erase(registry, r);
  }
  while (last) {
    /* In batches, so no allocation is needed; each detach takes its variable out of views
     * and drops its reference (ours keeps r alive meanwhile). */
    SV* batch[64];
    std::size_t count = 0;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      for (const auto& [interp, sv] : r->views) {
        if (interp == static_cast<void*>(aTHX) && count < std::size(batch)) batch[count++] = sv;
      }
    }
    if (count == 0) break;
    for (std::size_t i = 0; i < count; ++i) detach_orphan(aTHX_ batch[i], r);
  }
  if (r->refs.fetch_sub(1) == 1) delete r;
}

/* The live region holding [address, address + length), with a reference taken, or null. */
region* find_live(std::uintptr_t address, std::size_t length) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (region* r : registry) {
    auto first = reinterpret_cast<std::uintptr_t>(r->map.data());
    if (r->owners.load() > 0 && r->map.access() != mmipc::access_mode::none && address >= first &&
        length <= r->map.size() && address - first <= r->map.size() - length) {
      r->refs.fetch_add(1);
      return r;
    }
  }
  return nullptr;
}

/* What mmap() asked for, already converted. */
struct request {
  bool anonymous;
  int fd;
  std::uint64_t offset;
  std::uint64_t length; /* 0: to the end of the file */
  mmipc::map_options options;
};

region* make_region(const request& req, failure& f) noexcept {
  try {
    mmipc::mapping m =
        req.anonymous
            ? mmipc::mapping::anonymous(req.length, req.options)
            : mmipc::mapping::map(req.fd, req.offset,
                                  req.length ? std::optional<std::uint64_t>(req.length)
                                             : std::nullopt,
                                  req.options);
    return new region{std::move(m), !req.anonymous};
  } catch (const mmipc::region_error& e) {
    using mmipc::region_problem;
    auto offset = static_cast<unsigned long long>(e.offset());
    auto length = static_cast<unsigned long long>(e.length());
    auto size = static_cast<unsigned long long>(e.file_size());
    switch (e.problem()) {
      case region_problem::offset_past_end:
      case region_problem::offset_at_end:
        describe(f, EINVAL, "mmap: offset %llu is at or beyond end of file (%llu bytes)", offset,
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
        describe(f, EINVAL, "mmap: no len provided, a device has no size to infer it from");
        break;
      case region_problem::not_mappable: /* what the kernel says for a pipe or a socket */
        syscall_failed(f, "mmap", ENODEV);
        break;
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

bool sync_region(const region* r, std::size_t offset, std::size_t length, int flags,
                 failure& f) noexcept {
  try {
    r->map.sync(offset, length, (flags & MS_ASYNC) ? mmipc::sync_mode::async : mmipc::sync_mode::sync,
                (flags & MS_INVALIDATE) != 0);
    return true;
  } catch (const mmipc::os_error& e) {
    syscall_failed(f, "msync", e.error_number());
  } catch (const std::exception& e) {
    describe(f, EINVAL, "msync: %s", e.what());
  }
  return false;
}

/* Copies an assigned value into the mapped region, guarded: when another process truncated
 * the file under the mapping, the copy fails (EFAULT) instead of killing Perl with SIGBUS. */
bool copy_into_region(char* base, const char* value, std::size_t n, failure& f) noexcept {
  try {
    mmipc::guarded_copy(base, value, n, "write");
    return true;
  } catch (const mmipc::lost_pages_error& e) {
    describe(f, e.error_number(),
             "Sys::Mmap: cannot write to the mapped region: %s (%s) ",
             e.error_number() == EFAULT ? "the mapped file shrank under the mapping"
                                        : "I/O error on the mapped file's storage",
             std::strerror(e.error_number()));
  } catch (const std::exception& e) {
    describe(f, EIO, "Sys::Mmap: cannot write to the mapped region: %s ", e.what());
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

/* The one way out with an error: sets $! and croaks (Perl appends " at FILE line N."). */
[[noreturn]] void fail(pTHX_ const failure& f) {
  if (f.err != 0) SETERRNO(f.err, 0);
  Perl_croak(aTHX_ "%s", f.message);
}

[[noreturn]] void fail(pTHX_ int err, const char* message) {
  failure f;
  describe(f, err, "%s", message);
  fail(aTHX_ f);
}

/* ---- the magic ---- */

int owner_free(pTHX_ SV* sv, MAGIC* mg);
int owner_dup(pTHX_ MAGIC* mg, CLONE_PARAMS* param);
int shared_set(pTHX_ SV* sv, MAGIC* mg);
int hardwire_get(pTHX_ SV* sv, MAGIC* mg);
int hardwire_free(pTHX_ SV* sv, MAGIC* mg);
int hardwire_dup(pTHX_ MAGIC* mg, CLONE_PARAMS* param);
int keep_local(pTHX_ SV* sv, MAGIC* mg);

/* Fields: get, set, len, clear, free, copy, dup (threads), local (`local $var`). */
const MGVTBL mmap_vtbl = {nullptr,    nullptr, nullptr,   nullptr,
                          owner_free, nullptr, owner_dup, keep_local};
const MGVTBL new_vtbl = {nullptr,    shared_set, nullptr,   nullptr,
                         owner_free, nullptr,    owner_dup, keep_local};
const MGVTBL hardwire_vtbl = {hardwire_get,  nullptr, nullptr,      nullptr,
                              hardwire_free, nullptr, hardwire_dup, keep_local};

region* region_of(const MAGIC* mg) { return reinterpret_cast<region*>(mg->mg_ptr); }

bool is_owner(const MAGIC* mg) { return mg->mg_virtual != &hardwire_vtbl; }

/* Our magic on `sv`, or null. */
MAGIC* our_magic(pTHX_ SV* sv) {
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

/* True when the variable's buffer is (inside) the region. */
bool points_into(SV* sv, const region* r) {
  if (SvTYPE(sv) < SVt_PV || SvLEN(sv) != 0 || SvPVX_const(sv) == nullptr) return false;
  auto* p = reinterpret_cast<const std::byte*>(SvPVX_const(sv));
  return p >= r->map.data() && p <= r->map.data() + r->map.size();
}

/* Lets go of the region: a variable still pointing into it becomes undef, so it can never
 * point at unmapped memory. The magic stays, inert, until it is removed or freed. */
void detach(pTHX_ SV* sv, MAGIC* mg) {
  region* r = region_of(mg);
  if (!r) return;
  mg->mg_ptr = nullptr;
  if (!is_owner(mg)) forget_view(r, sv);
  if (points_into(sv, r)) {
    SvREADONLY_off(sv);
    SvPV_set(sv, nullptr);
    SvCUR_set(sv, 0);
    SvOK_off(sv);
  }
  release(aTHX_ r, is_owner(mg));
}

/* A variable hardwired into `r`, whose last owner is gone. */
void detach_orphan(pTHX_ SV* sv, region* r) {
  for (MAGIC* mg = SvMAGIC(sv); mg; mg = mg->mg_moremagic) {
    if (mg->mg_type == PERL_MAGIC_ext && mg->mg_virtual == &hardwire_vtbl && region_of(mg) == r) {
      detach(aTHX_ sv, mg);
      return;
    }
  }
  forget_view(r, sv); /* its magic went another way: just stop tracking it */
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

int hardwire_get(pTHX_ SV* sv, MAGIC* mg) {
  region* r = region_of(mg);
  if (r && r->owners.load() == 0) detach(aTHX_ sv, mg);
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

/* `local $mapped` gives the variable a fresh, ordinary value for the scope: without this
 * hook Perl would copy our magic onto it uncounted, and freeing it would unmap the region
 * under the restored variable. */
int keep_local(pTHX_ SV*, MAGIC*) { return 0; }

/* Gives up whatever buffer Perl holds in `sv` (its own, shared copy-on-write, or a
 * reference) without touching mapped memory, and points it at [data, data + size). */
void point_at(pTHX_ SV* sv, char* data, STRLEN size) {
  if (SvROK(sv)) sv_unref_flags(sv, 0);
  if (SvIsCOW(sv)) sv_force_normal_flags(sv, SV_COW_DROP_PV);
  SvUPGRADE(sv, SVt_PV);
  if (SvPVX_const(sv) != data) SvPV_free(sv);
  SvPV_set(sv, data);
  SvCUR_set(sv, size);
  SvLEN_set(sv, 0);
  SvPOK_only(sv);
}

/* new() variables: Perl stored a value in its own buffer; write it over the start of the
 * region (cut to the region's length) and make the variable the region again. */
int shared_set(pTHX_ SV* sv, MAGIC* mg) {
  region* r = region_of(mg);
  if (!r) return 0;
  char* base = reinterpret_cast<char*>(r->map.data());
  const STRLEN size = r->map.size();
  failure f;
  if (!(SvPOK(sv) && SvPVX_const(sv) == base && SvLEN(sv) == 0)) {
    if (SvOK(sv)) {
      if (SvUTF8(sv)) sv_utf8_downgrade_nomg(sv, TRUE);
      STRLEN length = 0;
      const char* value = SvPV_nomg_const(sv, length);
      if (value != base && !copy_into_region(base, value, std::min(length, size), f)) {
        /* The variable stays the region (what exists of it), then the assignment dies. */
        point_at(aTHX_ sv, base, size);
        fail(aTHX_ f);
      }
    }
    point_at(aTHX_ sv, base, size);
  }
  SvCUR_set(sv, size); /* an in-place chop or s/// shortened it: the region is all there */
  if (r->tainted) SvTAINTED_on(sv);
  return 0;
}

/* ---- argument conversion ---- */

/* A non-negative integer argument (undef is 0); dies with the original's message style. */
std::uint64_t to_size(pTHX_ SV* sv, const char* what) {
  SvGETMAGIC(sv);
  if (!SvOK(sv)) return 0;
  if (!looks_like_number(sv)) {
    Perl_croak(aTHX_ "mmap: %s is not a number (%s) ", what, SvPV_nolen(sv));
  }
  if (SvIOK(sv) && SvIsUV(sv)) return SvUV_nomg(sv);
  NV value = SvNV_nomg(sv);
  if (value != value) Perl_croak(aTHX_ "mmap: %s is not a number (%s) ", what, SvPV_nolen(sv));
  if (value < 0) Perl_croak(aTHX_ "mmap: Cannot operate on a negative %s (%s) ", what, SvPV_nolen(sv));
  if (SvIOK(sv)) return static_cast<std::uint64_t>(SvIV_nomg(sv));
  if (value >= 18446744073709551616.0) return UINT64_MAX;
  return static_cast<std::uint64_t>(value);
}

IV to_flags(pTHX_ SV* sv, const char* what) {
  SvGETMAGIC(sv);
  if (SvOK(sv) && !looks_like_number(sv)) {
    Perl_croak(aTHX_ "mmap: %s is not a number (%s) ", what, SvPV_nolen(sv));
  }
  return SvOK(sv) ? SvIV_nomg(sv) : 0;
}

/* The descriptor behind a handle (glob, glob reference, IO object or handle name), or -1:
 * never dies on a closed, fake or in-memory handle (the original crashed there). */
int fd_of(pTHX_ SV* sv) {
  SvGETMAGIC(sv);
  IO* io = nullptr;
  if (SvROK(sv)) {
    SV* target = SvRV(sv);
    if (isGV_with_GP(target)) io = GvIO(reinterpret_cast<GV*>(target));
    else if (SvTYPE(target) == SVt_PVIO) io = reinterpret_cast<IO*>(target);
  } else if (isGV_with_GP(sv)) {
    io = GvIO(reinterpret_cast<GV*>(sv));
  } else if (SvPOK(sv) && SvCUR(sv) > 0) {
    if (GV* gv = gv_fetchsv_nomg(sv, 0, SVt_PVIO)) io = GvIO(gv);
  }
  if (!io || !IoIFP(io)) return -1;
  return PerlIO_fileno(IoIFP(io));
}

/* The variable behind `var`: a hash or array element that does not exist yet reaches an
 * XSUB as a proxy (a "deferred element"); mapping into the proxy would be lost, so the
 * element is created (with `vivify`) or looked through. */
SV* target_of(pTHX_ SV* var, bool vivify) {
  if (SvTYPE(var) == SVt_PVLV && LvTYPE(var) == 'y') {
    if (vivify) Perl_vivify_defelem(aTHX_ var); /* no-op once it exists */
    if (!LvTARGLEN(var) && LvTARG(var)) return LvTARG(var);
  }
  return var;
}

/* Dies unless `var` can be made to hold a mapping. */
void check_variable(pTHX_ SV* var, const char* op) {
  MAGIC* ours = our_magic(aTHX_ var);
  if (SvREADONLY(var) && !(ours && region_of(ours) && points_into(var, region_of(ours)))) {
    Perl_croak_no_modify();
  }
  if (SvTYPE(var) > SVt_PVMG) Perl_croak(aTHX_ "%s: variable is not a plain scalar", op);
  if (SvRMAGICAL(var) && mg_find(var, PERL_MAGIC_tiedscalar)) {
    Perl_croak(aTHX_ "%s: variable is tied", op);
  }
}

/* Removes every mapping `var` holds (undef if it pointed into one). */
void drop_mapping(pTHX_ SV* var) {
  while (MAGIC* mg = our_magic(aTHX_ var)) {
    detach(aTHX_ var, mg);
    sv_unmagicext(var, PERL_MAGIC_ext, const_cast<MGVTBL*>(mg->mg_virtual));
  }
}

void attach(pTHX_ SV* var, region* r, const MGVTBL* vtbl, char* data, STRLEN size) {
  drop_mapping(aTHX_ var);
  if (r->map.access() == mmipc::access_mode::none) {
    sv_setpvn(var, "", 0); /* PROT_NONE pages cannot be read: expose none of them */
  } else {
    point_at(aTHX_ var, data, size);
  }
  MAGIC* mg = sv_magicext(var, nullptr, PERL_MAGIC_ext, vtbl, reinterpret_cast<const char*>(r), 0);
  mg->mg_flags |= MGf_DUP | MGf_LOCAL;
  if (vtbl == &hardwire_vtbl) {
    std::lock_guard<std::mutex> lock(registry_mutex);
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

/* mmap() and new(): converts the arguments, maps, and makes `var` the mapping. */
SV* do_mmap(pTHX_ SV* var, SV* len_sv, SV* prot_sv, SV* flags_sv, SV* fh, SV* off_sv,
            const MGVTBL* vtbl) {
  var = target_of(aTHX_ var, true);
  check_variable(aTHX_ var, "mmap");
  std::uint64_t offset = 0;
  if (off_sv && SvTRUE(off_sv)) offset = to_size(aTHX_ off_sv, "offset");
  const std::uint64_t length = to_size(aTHX_ len_sv, "length");
  const IV prot = to_flags(aTHX_ prot_sv, "protection");
  const IV flags = to_flags(aTHX_ flags_sv, "flags");

  request req{};
  req.anonymous = (flags & MAP_ANONYMOUS) != 0;
  req.offset = offset;
  req.length = length;
  req.fd = -1;
  if (req.anonymous) {
    if (length == 0) {
      Perl_croak(aTHX_
                 "mmap: MAP_ANON specified, but no length specified. cannot infer length from file");
    }
    req.offset = 0;
  } else {
    req.fd = fd_of(aTHX_ fh);
    if (req.fd < 0) Perl_croak(aTHX_ "mmap: file not open or does not have associated fileno");
  }

  /* Only what the core can express; anything else is what the kernel would refuse. */
  const IV known_flags = MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FILE | MAP_LOCKED |
                         MAP_NORESERVE | MAP_POPULATE | MAP_HUGETLB |
                         (static_cast<IV>(MAP_HUGE_MASK) << MAP_HUGE_SHIFT);
  const IV huge_log2 = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
  const bool shared = (flags & MAP_SHARED) != 0;
  if ((prot & ~static_cast<IV>(PROT_READ | PROT_WRITE | PROT_EXEC)) || (flags & ~known_flags) ||
      shared == ((flags & MAP_PRIVATE) != 0) || (huge_log2 && !(flags & MAP_HUGETLB))) {
    failure f;
    syscall_failed(f, "mmap", EINVAL);
    fail(aTHX_ f);
  }
  req.options.shared = shared;
  req.options.access = (prot & PROT_WRITE)  ? mmipc::access_mode::read_write
                       : (prot & (PROT_READ | PROT_EXEC)) ? mmipc::access_mode::read_only
                                                          : mmipc::access_mode::none;
  req.options.executable = (prot & PROT_EXEC) != 0;
  req.options.populate = (flags & MAP_POPULATE) != 0;
  req.options.noreserve = (flags & MAP_NORESERVE) != 0;
  req.options.locked = (flags & MAP_LOCKED) != 0;
  if (flags & MAP_HUGETLB) {
    /* Without a size the kernel uses its default huge page: 2 MiB on x86-64. */
    req.options.huge_page_size = std::size_t{1} << (huge_log2 ? huge_log2 : 21);
  }

  failure f;
  region* r = make_region(req, f);
  if (!r) fail(aTHX_ f);
  add_to_registry(r);
  attach(aTHX_ var, r, vtbl, reinterpret_cast<char*>(r->map.data()), r->map.size());
  return newSVuv(PTR2UV(r->map.data()));
}

struct constant {
  const char* name;
  IV value;
};

const constant constants[] = {
    {"MAP_ANON", MAP_ANONYMOUS},       {"MAP_ANONYMOUS", MAP_ANONYMOUS},
    {"MAP_FILE", MAP_FILE},            {"MAP_LOCKED", MAP_LOCKED},
    {"MAP_PRIVATE", MAP_PRIVATE},      {"MAP_SHARED", MAP_SHARED},
    {"MAP_NORESERVE", MAP_NORESERVE},  {"MAP_POPULATE", MAP_POPULATE},
    {"MAP_HUGETLB", MAP_HUGETLB},      {"MAP_HUGE_2MB", MAP_HUGE_2MB},
    {"MAP_HUGE_1GB", MAP_HUGE_1GB},    {"PROT_EXEC", PROT_EXEC},
    {"PROT_NONE", PROT_NONE},          {"PROT_READ", PROT_READ},
    {"PROT_WRITE", PROT_WRITE},        {"MS_ASYNC", MS_ASYNC},
    {"MS_SYNC", MS_SYNC},              {"MS_INVALIDATE", MS_INVALIDATE},
};

}  // namespace

MODULE = Sys::Mmap    PACKAGE = Sys::Mmap

PROTOTYPES: DISABLE

BOOT:
{
  HV* stash = gv_stashpv("Sys::Mmap", GV_ADD);
  for (const constant& c : constants) newCONSTSUB(stash, c.name, newSViv(c.value));
  /* The SIGBUS guard of the module's copies, in place before scripts set $SIG{BUS}. */
  failure f;
  if (!install_guard(f)) fail(aTHX_ f);
}

SV*
mmap(var, len, prot, flags, fh = &PL_sv_undef, offset = nullptr)
    SV* var
    SV* len
    SV* prot
    SV* flags
    SV* fh
    SV* offset
  PROTOTYPE: $$$$*;$
  CODE:
    RETVAL = do_mmap(aTHX_ var, len, prot, flags, fh, offset, &mmap_vtbl);
  OUTPUT:
    RETVAL

SV*
_map_shared(var, len, fh)
    SV* var
    SV* len
    SV* fh
  CODE:
    {
      const bool anonymous = !SvOK(fh);
      SV* flags = sv_2mortal(newSViv(MAP_SHARED | (anonymous ? MAP_ANONYMOUS : 0)));
      SV* prot = sv_2mortal(newSViv(PROT_READ | PROT_WRITE));
      RETVAL = do_mmap(aTHX_ var, len, prot, flags, fh, nullptr, &new_vtbl);
    }
  OUTPUT:
    RETVAL

SV*
munmap(var)
    SV* var
  PROTOTYPE: $
  CODE:
    {
      var = target_of(aTHX_ var, false);
      MAGIC* mg = our_magic(aTHX_ var);
      if (mg && !is_owner(mg)) hardwire_get(aTHX_ var, mg); /* is its mapping still there? */
      if (mg && region_of(mg)) {
        drop_mapping(aTHX_ var);
        SvREADONLY_off(var);
        sv_set_undef(var);
      } else {
        SvGETMAGIC(var);
        if (!SvOK(var)) Perl_croak(aTHX_ "undef variable not unmappable");
        if (SvROK(var) || SvTYPE(var) < SVt_PV || SvTYPE(var) > SVt_PVMG) {
          Perl_croak(aTHX_ "variable is not a string, type is: %d", static_cast<int>(SvTYPE(var)));
        }
        /* Never hand munmap() an address Perl owns: the original unmapped heap pages here. */
        failure f;
        describe(f, EINVAL, "munmap failed! errno %d %s", EINVAL, std::strerror(EINVAL));
        fail(aTHX_ f);
      }
      RETVAL = newSViv(1);
    }
  OUTPUT:
    RETVAL

SV*
msync(var, flags = MS_SYNC)
    SV* var
    IV flags
  PROTOTYPE: $;$
  CODE:
    {
      var = target_of(aTHX_ var, false);
      MAGIC* mg = our_magic(aTHX_ var);
      if (mg && !is_owner(mg)) hardwire_get(aTHX_ var, mg);
      region* r = mg ? region_of(mg) : nullptr;
      if (!r) fail(aTHX_ EINVAL, "msync: variable is not mapped");
      if ((flags & ~static_cast<IV>(MS_SYNC | MS_ASYNC | MS_INVALIDATE)) ||
          ((flags & MS_SYNC) && (flags & MS_ASYNC))) {
        failure f;
        syscall_failed(f, "msync", EINVAL);
        fail(aTHX_ f);
      }
      std::size_t offset = 0, length = r->map.size();
      if (!is_owner(mg) && points_into(var, r)) {
        offset = static_cast<std::size_t>(reinterpret_cast<const std::byte*>(SvPVX_const(var)) -
                                          r->map.data());
        length = SvCUR(var);
      }
      failure f;
      if (!sync_region(r, offset, length, static_cast<int>(flags), f)) fail(aTHX_ f);
      RETVAL = newSViv(1);
    }
  OUTPUT:
    RETVAL

SV*
hardwire(var, address, length)
    SV* var
    SV* address
    SV* length
  PROTOTYPE: $$$
  CODE:
    {
      var = target_of(aTHX_ var, true);
      check_variable(aTHX_ var, "hardwire");
      MAGIC* mg = our_magic(aTHX_ var);
      if (mg && is_owner(mg) && region_of(mg)) {
        Perl_croak(aTHX_ "hardwire: variable holds a mapping of its own; munmap it first");
      }
      SvGETMAGIC(address);
      if (!SvOK(address) || !looks_like_number(address)) {
        fail(aTHX_ EINVAL, "hardwire: address is not a number");
      }
      const NV nv = SvNV_nomg(address);
      if (!(nv >= 0 && nv < 18446744073709551616.0)) { /* also NaN */
        fail(aTHX_ EINVAL, "hardwire: address is not inside a live mapping made by Sys::Mmap");
      }
      const std::uintptr_t at = (SvIOK(address) && SvIsUV(address)) ? SvUV_nomg(address)
                                : SvIOK(address) ? static_cast<std::uintptr_t>(SvIV_nomg(address))
                                                 : static_cast<std::uintptr_t>(nv);
      SvGETMAGIC(length);
      if (!looks_like_number(length) || SvNV_nomg(length) < 0) {
        fail(aTHX_ EINVAL, "hardwire: length is not a non-negative number");
      }
      const std::size_t size = static_cast<std::size_t>(SvUV_nomg(length));
      region* r = find_live(at, size);
      if (!r) {
        failure f;
        describe(f, EINVAL,
                 "hardwire: address %#llx length %llu is not inside a live mapping made by "
                 "Sys::Mmap",
                 static_cast<unsigned long long>(at), static_cast<unsigned long long>(size));
        fail(aTHX_ f);
      }
      attach(aTHX_ var, r, &hardwire_vtbl, INT2PTR(char*, at), size);
      RETVAL = newSViv(1);
    }
  OUTPUT:
    RETVAL
