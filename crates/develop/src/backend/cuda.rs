//! The CUDA backend: the [`Program`] on an NVIDIA GPU through the driver API, with the
//! kernels in `kernels/*.cu` compiled at start by NVRTC for the device found.
//!
//! Both libraries are loaded at run time (cudarc's `dynamic-loading`), so the binary starts
//! where no CUDA is installed; cudarc panics when it reaches for a library that is not
//! there, so their presence is checked before any other call, and every entry point is
//! also guarded against panics: a missing or broken CUDA must cost a fallback, never the
//! process.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{
    sys as cu, CudaContext, CudaEvent, CudaFunction, CudaModule, CudaSlice, CudaStream, CudaView,
    DriverError, LaunchConfig, PinnedHostSlice, PushKernelArg,
};
use cudarc::nvrtc::{sys as nvrtc, CompileError, CompileOptions, Ptx};

use super::pinned::{Bytes, Pool, Way};
use super::program::{Module, Pass, Program, GROUP};
use super::{add_lap, Fault, Gpu, Kind, Ran};
use crate::pipeline::StageTime;

const NO_DRIVER: &str = "CUDA driver library (libcuda) not found";
const NO_NVRTC: &str = "NVRTC library not found";

/// Pinned host memory the copies may hold, free or in use: sixteen 24 MP frames in flight
/// with their full-size renditions, and under a tenth of a 32 GiB workstation's memory.
const PINNED_LIMIT: usize = 3 << 30;

/// Set (to anything), every copy goes from pageable memory: to compare the two with
/// `wedsync bench gpu`.
pub(crate) const PAGEABLE_VARIABLE: &str = "WEDSYNC_CUDA_PAGEABLE";

pub(crate) struct CudaBackend {
    context: Arc<CudaContext>,
    /// Every kernel of every module, by entry-point name (each holds its module loaded).
    functions: HashMap<&'static str, CudaFunction>,
    description: String,
    /// Device memory that images in flight may take together, from what was free at open.
    memory_budget: usize,
    pinned: Pool<PinnedHostSlice<u8>>,
    fault: Fault,
}

impl CudaBackend {
    /// Device 0 with every kernel loaded, compiled now or taken from `cache` (a folder of
    /// PTX kept between runs; None: compiled at every start).
    pub(crate) fn open(cache: Option<&Path>, fault: Fault) -> Result<CudaBackend, String> {
        // SAFETY: these only try to load the libraries; nothing is called in them.
        if !unsafe { cu::is_culib_present() } {
            // NVRTC alone is of no use, but whether it is there tells what to install.
            let nvrtc = if unsafe { nvrtc::is_culib_present() } { "NVRTC found" } else { NO_NVRTC };
            return Err(format!("{NO_DRIVER}; {nvrtc}"));
        }
        if !unsafe { nvrtc::is_culib_present() } {
            return Err(NO_NVRTC.into());
        }
        guarded("opening the CUDA device", || Self::open_device(cache, fault))
    }

    fn open_device(cache: Option<&Path>, fault: Fault) -> Result<CudaBackend, String> {
        let count = CudaContext::device_count().map_err(|e| driver_error("starting the CUDA driver", e))?;
        if count < 1 {
            return Err("no CUDA device".into());
        }
        let context = CudaContext::new(0).map_err(|e| driver_error("opening CUDA device 0", e))?;
        let capability =
            context.compute_capability().map_err(|e| driver_error("reading the compute capability", e))?;
        let description = describe(&context, capability);
        // Each run keeps all its buffers and launches on one stream of its own, so nothing
        // is shared between streams: cudarc's per-buffer events, which order uses across
        // streams, would only cost time. Set before any buffer exists, as it must be.
        // SAFETY: no buffer is ever used on a stream other than the one it was made on.
        unsafe { context.disable_event_tracking() };
        keep_freed_memory(&context);
        let arch = nvrtc_arch(capability);
        let mut functions = HashMap::new();
        for module in Module::ALL {
            let path = cache.map(|dir| cache_path(dir, module, capability, &arch));
            let loaded = load_module(&context, module, &arch, path.as_deref())?;
            for &entry in module.entries() {
                let function = loaded
                    .load_function(entry)
                    .map_err(|e| driver_error(&format!("finding kernel {entry}"), e))?;
                functions.insert(entry, function);
            }
        }
        let memory_budget = budget_from_free_memory(&context);
        let limit = if std::env::var_os(PAGEABLE_VARIABLE).is_some() { 0 } else { PINNED_LIMIT };
        let pinned = Pool::new(limit);
        Ok(CudaBackend { context, functions, description, memory_budget, pinned, fault })
    }

    fn execute(&self, program: &Program, timed: bool) -> Result<Ran, String> {
        // A stream per run: runs of images in flight together overlap on the GPU.
        let stream = self.context.new_stream().map_err(|e| driver_error("creating a stream", e))?;
        let mut laps = Laps::new(timed, &stream)?;
        let mut staging =
            Staging { context: &self.context, pool: &self.pinned, stream: &stream, lent: Vec::new() };
        let buffers = upload_buffers(&stream, program, &mut staging)?;
        let (params, offsets) = upload_params(&stream, program)?;
        laps.lap("upload", &stream)?;
        for (i, pass) in program.passes.iter().enumerate() {
            let p = params
                .try_slice(offsets[i]..offsets[i + 1])
                .ok_or("the parameters do not fit their buffer")?;
            self.launch(&stream, pass, &p, &buffers)?;
            let stage_ends = program.passes.get(i + 1).is_none_or(|next| next.stage != pass.stage);
            if stage_ends {
                laps.lap(pass.stage.name(), &stream)?;
            }
        }
        let outputs = download(&stream, program, &buffers, &mut staging)?;
        laps.lap("download", &stream)?;
        Ok(Ran { outputs, timings: laps.timings })
    }

    /// Launches `pass` over its grid: `p` first, then its buffers in binding order (the
    /// kernel's own argument order).
    fn launch(
        &self,
        stream: &Arc<CudaStream>,
        pass: &Pass,
        p: &CudaView<'_, u32>,
        buffers: &[CudaSlice<u8>],
    ) -> Result<(), String> {
        let grid = (pass.threads[0].div_ceil(GROUP), pass.threads[1].div_ceil(GROUP), 1);
        if grid.0 == 0 || grid.1 == 0 {
            // Nothing to do, as an empty dispatch on wgpu; CUDA would reject the launch.
            return Ok(());
        }
        let function = self.functions.get(pass.entry).ok_or_else(|| format!("no kernel {}", pass.entry))?;
        let mut launch = stream.launch_builder(function);
        launch.arg(p);
        for &(binding, id) in &pass.bindings {
            let buffer = buffers
                .get(id)
                .ok_or_else(|| format!("{} binding {binding}: the program has no buffer {id}", pass.entry))?;
            launch.arg(buffer);
        }
        let config = LaunchConfig { grid_dim: grid, block_dim: (GROUP, GROUP, 1), shared_mem_bytes: 0 };
        // SAFETY: the arguments are the kernel's, in its order (program.rs binds what each
        // entry point takes, in ascending binding order, as kernels/*.cu declare them), and
        // every kernel bounds its indices by the sizes in `p`, which the program sized the
        // buffers from.
        unsafe { launch.launch(config) }
            .map_err(|e| driver_error(&format!("launching {}", pass.entry), e))?;
        Ok(())
    }
}

impl Gpu for CudaBackend {
    fn kind(&self) -> Kind {
        Kind::Cuda
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn memory_budget(&self) -> usize {
        self.memory_budget
    }

    fn run(&self, program: &Program, timed: bool) -> Result<Ran, String> {
        self.fault.check()?;
        guarded("running on the CUDA device", || self.execute(program, timed))
    }
}

/// Compiles every module with NVRTC for `arch` (an NVRTC `--gpu-architecture` value such as
/// `compute_75`) and checks each has its entry points, without a GPU or a driver: for tests
/// on machines that have NVRTC but no GPU.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn compile_all(arch: &str) -> Result<(), String> {
    // SAFETY: only tries to load the library.
    if !unsafe { nvrtc::is_culib_present() } {
        return Err(NO_NVRTC.into());
    }
    guarded("compiling the CUDA kernels", || {
        for module in Module::ALL {
            let ptx = compile(module, arch)?;
            let text = String::from_utf8_lossy(ptx_text(&ptx).unwrap_or_default());
            for entry in module.entries() {
                if !text.contains(&format!(".entry {entry}(")) {
                    return Err(format!("kernels/{}.cu has no kernel {entry}", module.name()));
                }
            }
        }
        Ok(())
    })
}

// --- Running -----------------------------------------------------------------------------

/// Every buffer of the program, zeroed, with the inputs copied in (through pinned memory
/// where the pool lends it).
fn upload_buffers(
    stream: &Arc<CudaStream>,
    program: &Program,
    staging: &mut Staging<'_>,
) -> Result<Vec<CudaSlice<u8>>, String> {
    let mut buffers = Vec::with_capacity(program.buffers.len());
    for (id, buffer) in program.buffers.iter().enumerate() {
        let mut slice = stream.alloc_zeros::<u8>(buffer.bytes).map_err(|e| alloc_error(buffer.bytes, e))?;
        if let Some(init) = &buffer.init {
            if init.len() > buffer.bytes {
                return Err(format!("buffer {id}: {} bytes of input for {} bytes", init.len(), buffer.bytes));
            }
            let copied = match staging.stage_in(init) {
                Some(pinned) => stream.memcpy_htod(pinned, &mut slice),
                None => stream.memcpy_htod(&init[..], &mut slice),
            };
            copied.map_err(|e| driver_error("copying the input to the GPU", e))?;
        }
        buffers.push(slice);
    }
    Ok(buffers)
}

/// All passes' parameters in one buffer (one copy rather than one per pass), and where
/// each pass's start: pass `i` has words `offsets[i]..offsets[i + 1]`.
fn upload_params(
    stream: &Arc<CudaStream>,
    program: &Program,
) -> Result<(CudaSlice<u32>, Vec<usize>), String> {
    let mut words: Vec<u32> = Vec::new();
    let mut offsets = vec![0];
    for pass in &program.passes {
        words.extend(&pass.params);
        offsets.push(words.len());
    }
    if words.is_empty() {
        words.push(0);
    }
    let params =
        stream.clone_htod(&words).map_err(|e| driver_error("copying the parameters to the GPU", e))?;
    Ok((params, offsets))
}

/// Each output's 8-bit sRGB: the first width × height × 3 bytes of its buffer. Every copy
/// is queued, then the stream is waited for once, which also surfaces a fault of any
/// kernel that the copies alone might not report.
fn download(
    stream: &Arc<CudaStream>,
    program: &Program,
    buffers: &[CudaSlice<u8>],
    staging: &mut Staging<'_>,
) -> Result<Vec<Vec<u8>>, String> {
    let mut landed = Vec::with_capacity(program.outputs.len());
    for out in &program.outputs {
        let bytes = out.width * out.height * 3;
        if bytes == 0 {
            landed.push(Landed::Host(Vec::new()));
            continue;
        }
        let buffer =
            buffers.get(out.buffer).ok_or_else(|| format!("the program has no buffer {}", out.buffer))?;
        let view = buffer.try_slice(0..bytes).ok_or_else(|| {
            format!("buffer {} is too small for a {}×{} output", out.buffer, out.width, out.height)
        })?;
        let copied = match staging.landing(bytes) {
            Some(i) => stream.memcpy_dtoh(&view, staging.lent_mut(i)).map(|()| Landed::Pinned(i)),
            None => {
                let mut data = vec![0u8; bytes];
                stream.memcpy_dtoh(&view, &mut data).map(|()| Landed::Host(data))
            }
        };
        landed.push(copied.map_err(|e| driver_error("reading the result back", e))?);
    }
    stream.synchronize().map_err(|e| driver_error("finishing the program", e))?;
    landed
        .into_iter()
        .map(|l| match l {
            Landed::Pinned(i) => staging.read(i),
            Landed::Host(data) => Ok(data),
        })
        .collect()
}

/// Where an output was read back to: a pinned buffer (by its place in the run's
/// [`Staging`]) or host memory.
enum Landed {
    Pinned(usize),
    Host(Vec<u8>),
}

impl Bytes for PinnedHostSlice<u8> {
    fn bytes(&self) -> usize {
        self.num_bytes()
    }
}

/// The pinned buffers one run has taken. They go back to the pool once the stream has
/// finished with them, which after an error may be later than the run's return: dropping
/// waits for the stream.
struct Staging<'a> {
    context: &'a Arc<CudaContext>,
    pool: &'a Pool<PinnedHostSlice<u8>>,
    stream: &'a Arc<CudaStream>,
    lent: Vec<(Way, PinnedHostSlice<u8>)>,
}

impl Staging<'_> {
    /// `bytes` copied into a pinned buffer; None: copy them from where they are.
    fn stage_in(&mut self, bytes: &[u8]) -> Option<&PinnedHostSlice<u8>> {
        let i = self.lend(Way::ToDevice, bytes.len())?;
        // Waits on the buffer's own event, which is never recorded (event tracking is off):
        // a buffer's earlier copies are over because the pool only takes back buffers
        // whose stream has been waited for (`drop`).
        self.lent[i].1.as_mut_slice().ok()?.copy_from_slice(bytes);
        Some(&self.lent[i].1)
    }

    /// A pinned buffer to read `bytes` back into, by its place; None: read into host memory.
    fn landing(&mut self, bytes: usize) -> Option<usize> {
        self.lend(Way::FromDevice, bytes)
    }

    fn lent_mut(&mut self, i: usize) -> &mut PinnedHostSlice<u8> {
        &mut self.lent[i].1
    }

    /// What landed in buffer `i`, once the stream has been waited for.
    fn read(&self, i: usize) -> Result<Vec<u8>, String> {
        let buffer = &self.lent.get(i).ok_or("no such pinned buffer")?.1;
        buffer.as_slice().map(<[u8]>::to_vec).map_err(|e| driver_error("reading a pinned buffer", e))
    }

    fn lend(&mut self, way: Way, bytes: usize) -> Option<usize> {
        let flags = match way {
            Way::ToDevice => cu::CU_MEMHOSTALLOC_WRITECOMBINED,
            Way::FromDevice => 0,
        };
        // SAFETY: the memory is left unset; a buffer is written before it is read (copied
        // into on the host, or by the GPU).
        let pin = || unsafe { self.context.alloc_pinned_with_flags::<u8>(bytes, flags) }.ok();
        // The pool may unpin free buffers here, which needs the context on this thread:
        // the stream's first allocation has put it there.
        let buffer = self.pool.take(way, bytes, pin)?;
        self.lent.push((way, buffer));
        Some(self.lent.len() - 1)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        // After a failed stream no copy runs on; its buffers are unpinned, not reused.
        let finished = self.stream.synchronize().is_ok();
        for (way, buffer) in self.lent.drain(..) {
            if finished {
                self.pool.give_back(way, buffer);
            } else {
                self.pool.forget(buffer.num_bytes());
            }
        }
    }
}

/// Milliseconds by name, when timed: each lap waits for the GPU, so that the wall time is
/// that of the work since the last lap alone, and an event recorded on the stream at each
/// lap gives the same span on the GPU's clock.
struct Laps {
    clock: Instant,
    /// Where the last lap ended on the stream; None when not timed.
    mark: Option<CudaEvent>,
    timings: Vec<StageTime>,
}

impl Laps {
    fn new(timed: bool, stream: &CudaStream) -> Result<Laps, String> {
        let mark = if timed { Some(timing_event(stream)?) } else { None };
        Ok(Laps { clock: Instant::now(), mark, timings: Vec::new() })
    }

    fn lap(&mut self, name: &'static str, stream: &CudaStream) -> Result<(), String> {
        let Some(start) = &self.mark else { return Ok(()) };
        let end = timing_event(stream)?;
        stream.synchronize().map_err(|e| driver_error(&format!("waiting for {name}"), e))?;
        let ms = self.clock.elapsed().as_secs_f64() * 1e3;
        let device_ms = start.elapsed_ms(&end).ok().map(f64::from);
        add_lap(&mut self.timings, name, ms, device_ms);
        self.mark = Some(end);
        self.clock = Instant::now();
        Ok(())
    }
}

/// An event recorded now on `stream`, with timing on (cudarc's default turns it off).
fn timing_event(stream: &CudaStream) -> Result<CudaEvent, String> {
    stream
        .record_event(Some(cu::CUevent_flags::CU_EVENT_DEFAULT))
        .map_err(|e| driver_error("recording a timing event", e))
}

// --- Opening -----------------------------------------------------------------------------

/// E.g. "NVIDIA H100 80GB HBM3 (CUDA, compute 9.0, 79.1 GiB, driver 12.8)".
fn describe(context: &CudaContext, (major, minor): (i32, i32)) -> String {
    let name = context.name().unwrap_or_else(|_| "CUDA device 0".into());
    let memory = context
        .total_mem()
        .map(|b| format!(", {:.1} GiB", b as f64 / (1u64 << 30) as f64))
        .unwrap_or_default();
    let driver = driver_version().map(|(a, b)| format!(", driver {a}.{b}")).unwrap_or_default();
    format!("{name} (CUDA, compute {major}.{minor}{memory}{driver})")
}

/// Most of the memory free once the kernels are loaded: the rest is left to the driver
/// (its pool rounds allocations up) and to other programs on the GPU. Measured once: the
/// pool later keeps freed buffers, which the driver then counts as taken.
fn budget_from_free_memory(context: &CudaContext) -> usize {
    match context.mem_get_info() {
        Ok((free, _total)) => free / 10 * 8,
        Err(_) => 2 << 30,
    }
}

/// The CUDA version the driver supports, e.g. (12, 8).
fn driver_version() -> Option<(i32, i32)> {
    let mut version: i32 = 0;
    // SAFETY: the driver writes one int.
    unsafe { cu::cuDriverGetVersion(&mut version) }.result().ok()?;
    Some((version / 1000, version % 1000 / 10))
}

/// Buffers come from the device's default memory pool, in stream order (cudarc allocates
/// with cuMemAllocAsync where the device has pools). By default the pool hands what is
/// freed back to the driver at every synchronisation, so every image would map its planes
/// (a gigabyte for a large RCD frame) afresh; with no release threshold the pool keeps
/// them for the next image: a buffer pool, kept by the driver. The pipeline's budget
/// already bounds what images in flight allocate together. Best effort: without it runs
/// are only slower.
fn keep_freed_memory(context: &CudaContext) {
    if !context.has_async_alloc() {
        return;
    }
    let mut pool: cu::CUmemoryPool = std::ptr::null_mut();
    // SAFETY: the driver writes the pool's handle, then reads one u64 for the attribute.
    unsafe {
        if cu::cuDeviceGetDefaultMemPool(&mut pool, context.cu_device()).result().is_err() {
            return;
        }
        let mut threshold = u64::MAX;
        let attribute = cu::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
        let _ = cu::cuMemPoolSetAttribute(pool, attribute, (&mut threshold as *mut u64).cast());
    }
}

/// A module from the cache when it holds one that loads, else compiled (and then cached).
fn load_module(
    context: &Arc<CudaContext>,
    module: Module,
    arch: &str,
    cached: Option<&Path>,
) -> Result<Arc<CudaModule>, String> {
    if let Some(ptx) = cached.and_then(read_cached) {
        // A damaged file is compiled again rather than failing the backend.
        if let Ok(loaded) = context.load_module(ptx) {
            return Ok(loaded);
        }
    }
    let ptx = compile(module, arch)?;
    let text = ptx_text(&ptx).map(<[u8]>::to_vec);
    let loaded = context.load_module(ptx).map_err(|e| {
        let hint = if e.0 == cu::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION {
            " (NVRTC is newer than the driver: update the driver)"
        } else {
            ""
        };
        format!("{}{hint}", driver_error(&format!("loading the {} kernels", module.name()), e))
    })?;
    if let (Some(path), Some(text)) = (cached, text) {
        write_cached(path, &text);
    }
    Ok(loaded)
}

/// NVRTC's PTX for `module`, compiled as the CPU path computes: no fused multiply-adds
/// (the CPU never fuses, and a fused a * b + c rounds once where the CPU rounds twice), no
/// flushing of denormals, IEEE division and square root.
fn compile(module: Module, arch: &str) -> Result<Ptx, String> {
    cudarc::nvrtc::compile_ptx_with_opts(module.cuda(), compile_options(module, arch))
        .map_err(|e| compile_error(module, e))
}

fn compile_options(module: Module, arch: &str) -> CompileOptions {
    CompileOptions {
        fmad: Some(false),
        ftz: Some(false),
        prec_div: Some(true),
        prec_sqrt: Some(true),
        // `arch` is &'static str there; the architecture is known only at run time.
        options: vec![format!("--gpu-architecture={arch}")],
        name: Some(format!("{}.cu", module.name())),
        ..Default::default()
    }
}

fn compile_error(module: Module, error: CompileError) -> String {
    match error {
        CompileError::CompileError { log, .. } => {
            format!("kernels/{}.cu does not compile: {}", module.name(), log.to_string_lossy().trim())
        }
        other => format!("NVRTC failed on kernels/{}.cu: {other:?}", module.name()),
    }
}

/// The text of PTX that NVRTC made, without its terminating NUL.
fn ptx_text(ptx: &Ptx) -> Option<&[u8]> {
    ptx.as_bytes().and_then(|bytes| bytes.split(|&b| b == 0).next())
}

/// The newest virtual architecture NVRTC knows that the device runs: the device's own,
/// unless NVRTC is older than the device, whose driver then compiles that PTX onwards.
fn nvrtc_arch((major, minor): (i32, i32)) -> String {
    let device = major * 10 + minor;
    let best = supported_archs().into_iter().filter(|&a| a <= device).max().unwrap_or(device);
    format!("compute_{best}")
}

fn supported_archs() -> Vec<i32> {
    let mut count: i32 = 0;
    // SAFETY: NVRTC writes the count, then that many ints.
    unsafe {
        if nvrtc::nvrtcGetNumSupportedArchs(&mut count) != nvrtc::nvrtcResult::NVRTC_SUCCESS || count <= 0 {
            return Vec::new();
        }
        let mut archs = vec![0i32; count as usize];
        if nvrtc::nvrtcGetSupportedArchs(archs.as_mut_ptr()) != nvrtc::nvrtcResult::NVRTC_SUCCESS {
            return Vec::new();
        }
        archs
    }
}

fn nvrtc_version() -> (i32, i32) {
    let (mut major, mut minor): (i32, i32) = (0, 0);
    // SAFETY: NVRTC writes two ints.
    match unsafe { nvrtc::nvrtcVersion(&mut major, &mut minor) } {
        nvrtc::nvrtcResult::NVRTC_SUCCESS => (major, minor),
        _ => (0, 0),
    }
}

// --- The PTX cache -----------------------------------------------------------------------

/// `<dir>/<module>-sm<major><minor>-<hash>.ptx`, the hash over everything that changes the
/// PTX: the source, NVRTC's version and the options. A stale file is never read: a new
/// source or compiler has a new name.
fn cache_path(dir: &Path, module: Module, (major, minor): (i32, i32), arch: &str) -> PathBuf {
    let (nv_major, nv_minor) = nvrtc_version();
    let compiler = format!("nvrtc {nv_major}.{nv_minor} {:?}", compile_options(module, arch));
    let hash = fnv1a(&[module.cuda().as_bytes(), compiler.as_bytes()]);
    dir.join(format!("{}-sm{major}{minor}-{hash:016x}.ptx", module.name()))
}

/// FNV-1a over `parts`, each ended by a separator. Spelled out rather than std's
/// DefaultHasher, whose output may change between Rust releases (a cache miss each time).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

fn read_cached(path: &Path) -> Option<Ptx> {
    let text = std::fs::read_to_string(path).ok()?;
    // cudarc hands the text to the driver as a C string: a NUL inside would panic there.
    (!text.is_empty() && !text.contains('\0')).then(|| Ptx::from_src(text))
}

/// Writes to a name of this process's own, then renames: a reader never sees half a file,
/// and two processes starting together do not interleave. A failure only costs a compile
/// at the next start.
fn write_cached(path: &Path, text: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let temp = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&temp, text).is_err() || std::fs::rename(&temp, path).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

// --- Errors ------------------------------------------------------------------------------

/// Runs `f`, turning a panic inside cudarc (a library or symbol it could not load, an
/// assertion) into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(format!("{what}: cudarc panicked: {}", panic_message(&*panic))))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".into()
    }
}

fn driver_error(what: &str, error: DriverError) -> String {
    let reason = error.error_string().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{what}: {reason} ({:?})", error.0)
}

fn alloc_error(bytes: usize, error: DriverError) -> String {
    let mb = bytes.div_ceil(1_000_000);
    if error.0 == cu::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
        format!("out of memory allocating {mb} MB")
    } else {
        driver_error(&format!("allocating {mb} MB"), error)
    }
}

#[cfg(test)]
mod tests {
    /// NVRTC compiles without a GPU or a driver, so wherever its library is (CI installs
    /// it from the nvidia-cuda-nvrtc wheel) every kernel is compiled for a real
    /// architecture: a syntax or type error in kernels/*.cu fails here, not on a
    /// photographer's machine.
    #[test]
    fn every_kernel_compiles_with_nvrtc() {
        for arch in ["compute_75", "compute_90"] {
            match super::compile_all(arch) {
                Ok(()) => {}
                Err(e) if e == super::NO_NVRTC && std::env::var_os("WEDSYNC_REQUIRE_NVRTC").is_none() => {
                    eprintln!("SKIPPED: every_kernel_compiles_with_nvrtc: {e} (set LD_LIBRARY_PATH to libnvrtc's folder)");
                    return;
                }
                Err(e) => panic!("{arch}: {e}"),
            }
        }
    }
}
