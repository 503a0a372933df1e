//! Safe wrappers over the raw N-API calls of `napi_sys.rs`: the one place in the crate that
//! touches raw pointers. Everything else sees `Env` (create JS values), `Args` (read checked
//! arguments as slices and numbers) and `Value`, and returns `crate::error::Result`; an `Err`
//! becomes a thrown JS `Error` (or `TypeError`) whose `code` property is the RKV_ERR_* string.
//!
//! Lifetimes: a `Value` and every slice borrowed from a typed array are valid only during the
//! call that produced them. That holds because an `Env`/`Args` only exists inside `trampoline`
//! (nothing can store them: they are created there and dropped before it returns), the addon
//! never calls back into JS while holding a slice (so nothing can detach or resize the buffer),
//! and V8 does not move ArrayBuffer backing stores.

use crate::error::{Error, Result};
use crate::napi_sys as sys;
use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;

/// Most arguments any export takes (blockBuild's five); extra ones are ignored like in JS.
const ARGS_MAX: usize = 6;

/// A JS value handle, valid during the current call only.
#[derive(Clone, Copy)]
pub struct Value {
    raw: sys::napi_value,
}

/// The environment of the current call.
pub struct Env {
    raw: sys::napi_env,
}

/// The address range [start, end) of a slice, for `Args::bytes_mut`'s overlap check.
pub fn range_of<T>(s: &[T]) -> (usize, usize) {
    let start = s.as_ptr() as usize;
    (start, start + std::mem::size_of_val(s))
}

/// A JS-callable export: reads its arguments, returns a value or an error to throw.
pub type Handler = fn(&Env, &Args) -> Result<Value>;

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::NAPI_OK {
        Ok(())
    } else {
        Err(Error::internal(format!("{what} failed with napi_status {status}")))
    }
}

impl Env {
    pub fn null(&self) -> Result<Value> {
        let mut raw = null_mut();
        // SAFETY: env is the live env of this call and `raw` a valid out-pointer (same below).
        check(unsafe { sys::napi_get_null(self.raw, &mut raw) }, "napi_get_null")?;
        Ok(Value { raw })
    }

    pub fn boolean(&self, b: bool) -> Result<Value> {
        let mut raw = null_mut();
        check(unsafe { sys::napi_get_boolean(self.raw, b, &mut raw) }, "napi_get_boolean")?;
        Ok(Value { raw })
    }

    pub fn uint32(&self, v: u32) -> Result<Value> {
        let mut raw = null_mut();
        check(unsafe { sys::napi_create_uint32(self.raw, v, &mut raw) }, "napi_create_uint32")?;
        Ok(Value { raw })
    }

    pub fn double(&self, v: f64) -> Result<Value> {
        let mut raw = null_mut();
        check(unsafe { sys::napi_create_double(self.raw, v, &mut raw) }, "napi_create_double")?;
        Ok(Value { raw })
    }

    pub fn bigint_u64(&self, v: u64) -> Result<Value> {
        let mut raw = null_mut();
        check(unsafe { sys::napi_create_bigint_uint64(self.raw, v, &mut raw) }, "napi_create_bigint_uint64")?;
        Ok(Value { raw })
    }

    fn string(&self, s: &str) -> Result<Value> {
        let mut raw = null_mut();
        let status = unsafe { sys::napi_create_string_utf8(self.raw, s.as_ptr() as *const c_char, s.len(), &mut raw) };
        check(status, "napi_create_string_utf8")?;
        Ok(Value { raw })
    }

    pub fn object(&self) -> Result<Value> {
        let mut raw = null_mut();
        check(unsafe { sys::napi_create_object(self.raw, &mut raw) }, "napi_create_object")?;
        Ok(Value { raw })
    }

    pub fn set_property(&self, object: Value, name: &CStr, value: Value) -> Result<()> {
        let status = unsafe { sys::napi_set_named_property(self.raw, object.raw, name.as_ptr(), value.raw) };
        check(status, "napi_set_named_property")
    }

    /// A new Node Buffer holding a copy of `bytes`.
    pub fn buffer(&self, bytes: &[u8]) -> Result<Value> {
        let mut raw = null_mut();
        let mut data: *mut c_void = null_mut();
        let status = unsafe { sys::napi_create_buffer(self.raw, bytes.len(), &mut data, &mut raw) };
        check(status, "napi_create_buffer")?;
        if !bytes.is_empty() {
            if data.is_null() {
                return Err(Error::internal("napi_create_buffer returned no memory"));
            }
            // SAFETY: napi_create_buffer allocated `bytes.len()` writable bytes at `data`, a new
            // allocation that cannot overlap `bytes`.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len()) };
        }
        Ok(Value { raw })
    }

    /// A new typed array of `kind` holding a copy of `items` (element size `size_of::<T>()`).
    fn typed_array<T: Copy>(&self, kind: sys::napi_typedarray_type, items: &[T]) -> Result<Value> {
        let byte_len = std::mem::size_of_val(items);
        let mut buffer = null_mut();
        let mut data: *mut c_void = null_mut();
        check(unsafe { sys::napi_create_arraybuffer(self.raw, byte_len, &mut data, &mut buffer) }, "napi_create_arraybuffer")?;
        if byte_len > 0 {
            if data.is_null() {
                return Err(Error::internal("napi_create_arraybuffer returned no memory"));
            }
            // SAFETY: a fresh allocation of exactly byte_len bytes; byte copy needs no alignment.
            unsafe { std::ptr::copy_nonoverlapping(items.as_ptr() as *const u8, data as *mut u8, byte_len) };
        }
        let mut raw = null_mut();
        let status = unsafe { sys::napi_create_typedarray(self.raw, kind, items.len(), buffer, 0, &mut raw) };
        check(status, "napi_create_typedarray")?;
        Ok(Value { raw })
    }

    pub fn uint8_array(&self, items: &[u8]) -> Result<Value> {
        self.typed_array(sys::NAPI_UINT8_ARRAY, items)
    }

    pub fn uint32_array(&self, items: &[u32]) -> Result<Value> {
        self.typed_array(sys::NAPI_UINT32_ARRAY, items)
    }

    pub fn biguint64_array(&self, items: &[u64]) -> Result<Value> {
        self.typed_array(sys::NAPI_BIGUINT64_ARRAY, items)
    }

    fn type_of(&self, v: Value) -> Result<sys::napi_valuetype> {
        let mut t = 0;
        check(unsafe { sys::napi_typeof(self.raw, v.raw, &mut t) }, "napi_typeof")?;
        Ok(t)
    }

    /// Throws `err` as a JS error with a `code` property, unless an exception is already pending
    /// (then that one, from N-API itself, is the more accurate report).
    fn throw(&self, err: &Error) {
        let mut pending = false;
        // SAFETY: env is live; on any failure here there is nothing better to do than return.
        unsafe {
            if sys::napi_is_exception_pending(self.raw, &mut pending) == sys::NAPI_OK && pending {
                return;
            }
        }
        let (Ok(code), Ok(msg)) = (self.string(err.code.as_str()), self.string(&err.message)) else { return };
        let mut error = null_mut();
        unsafe {
            let status = if err.type_error {
                sys::napi_create_type_error(self.raw, code.raw, msg.raw, &mut error)
            } else {
                sys::napi_create_error(self.raw, code.raw, msg.raw, &mut error)
            };
            if status == sys::NAPI_OK {
                sys::napi_throw(self.raw, error);
            }
        }
    }
}

/// The arguments of the current call.
pub struct Args {
    argv: [sys::napi_value; ARGS_MAX],
    argc: usize,
    env: sys::napi_env,
}

fn type_name(t: sys::napi_valuetype) -> &'static str {
    match t {
        sys::NAPI_UNDEFINED => "undefined",
        sys::NAPI_NULL => "null",
        sys::NAPI_BOOLEAN => "boolean",
        sys::NAPI_NUMBER => "number",
        sys::NAPI_STRING => "string",
        sys::NAPI_SYMBOL => "symbol",
        sys::NAPI_OBJECT => "object",
        sys::NAPI_FUNCTION => "function",
        sys::NAPI_BIGINT => "bigint",
        _ => "external",
    }
}

impl Args {
    fn env(&self) -> Env {
        Env { raw: self.env }
    }

    fn get(&self, i: usize, name: &str) -> Result<Value> {
        if i < self.argc {
            if let Some(&raw) = self.argv.get(i) {
                return Ok(Value { raw });
            }
        }
        Err(Error::wrong_type(format!("argument {name} is missing")))
    }

    /// The memory of a typed array argument of `kind`: (element pointer, element count).
    fn typed_raw<T>(&self, i: usize, name: &str, kind: sys::napi_typedarray_type, kind_name: &str) -> Result<(*mut T, usize)> {
        let v = self.get(i, name)?;
        let env = self.env();
        let mut is_typed = false;
        check(unsafe { sys::napi_is_typedarray(env.raw, v.raw, &mut is_typed) }, "napi_is_typedarray")?;
        if !is_typed {
            let t = env.type_of(v)?;
            return Err(Error::wrong_type(format!("argument {name} must be a {kind_name}, got {}", type_name(t))));
        }
        let mut t = 0;
        let mut len = 0usize;
        let mut data: *mut c_void = null_mut();
        let mut buffer = null_mut();
        let mut offset = 0usize;
        let status =
            unsafe { sys::napi_get_typedarray_info(env.raw, v.raw, &mut t, &mut len, &mut data, &mut buffer, &mut offset) };
        check(status, "napi_get_typedarray_info")?;
        if t != kind {
            return Err(Error::wrong_type(format!("argument {name} must be a {kind_name}, got another typed array")));
        }
        // A view of a transferred (detached) buffer reports 0 elements: read as empty, it hashed
        // as the empty string and a block as corrupt, blaming the disk for a caller's bug.
        let mut detached = false;
        if !buffer.is_null() {
            check(unsafe { sys::napi_is_detached_arraybuffer(env.raw, buffer, &mut detached) }, "napi_is_detached_arraybuffer")?;
        }
        if detached {
            return Err(Error::invalid_argument(format!("argument {name} is a view of a detached ArrayBuffer (transferred elsewhere)")));
        }
        if len == 0 {
            return Ok((std::ptr::NonNull::<T>::dangling().as_ptr(), 0));
        }
        if data.is_null() || (data as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::invalid_argument(format!("argument {name} has no usable memory (detached or misaligned)")));
        }
        Ok((data as *mut T, len))
    }

    /// The elements of a typed array argument of `kind`, borrowed for the call.
    fn typed<T>(&self, i: usize, name: &str, kind: sys::napi_typedarray_type, kind_name: &str) -> Result<&[T]> {
        let (data, len) = self.typed_raw::<T>(i, name, kind, kind_name)?;
        // SAFETY: N-API reports `len` elements of T at `data` (already advanced by the view's
        // byte offset, aligned, or dangling when empty), alive for this call (see the module
        // comment); we only read them.
        Ok(unsafe { std::slice::from_raw_parts(data, len) })
    }

    /// A typed array argument the export writes into. Its bytes must not overlap any address
    /// range in `others` (every other argument the call reads or writes, see `range_of`), so the
    /// `&mut` aliases nothing; an overlap is an InvalidArgument error.
    // A `&mut` from `&self` is sound here: it points into JS memory, not into `Args`, and the
    // overlap check is what keeps it unique (clippy cannot see that).
    #[allow(clippy::mut_from_ref)]
    fn typed_mut<T>(&self, i: usize, name: &str, kind: sys::napi_typedarray_type, kind_name: &str, others: &[(usize, usize)]) -> Result<&mut [T]> {
        let (data, len) = self.typed_raw::<T>(i, name, kind, kind_name)?;
        let start = data as usize;
        let end = start + len * std::mem::size_of::<T>();
        for &(os, oe) in others {
            if start < end && os < oe && start < oe && os < end {
                return Err(Error::invalid_argument(format!("argument {name} shares memory with another argument")));
            }
        }
        // SAFETY: as in `typed`, and no other slice of this call overlaps these bytes (checked
        // above; the caller passes every other argument's slice), so this is the only reference.
        Ok(unsafe { std::slice::from_raw_parts_mut(data, len) })
    }

    #[allow(clippy::mut_from_ref)]
    pub fn bytes_mut(&self, i: usize, name: &str, others: &[(usize, usize)]) -> Result<&mut [u8]> {
        self.typed_mut(i, name, sys::NAPI_UINT8_ARRAY, "Uint8Array", others)
    }

    #[allow(clippy::mut_from_ref)]
    pub fn u32s_mut(&self, i: usize, name: &str, others: &[(usize, usize)]) -> Result<&mut [u32]> {
        self.typed_mut(i, name, sys::NAPI_UINT32_ARRAY, "Uint32Array", others)
    }

    /// A `Uint8Array` argument (a Node Buffer is one).
    pub fn bytes(&self, i: usize, name: &str) -> Result<&[u8]> {
        self.typed(i, name, sys::NAPI_UINT8_ARRAY, "Uint8Array")
    }

    pub fn u32s(&self, i: usize, name: &str) -> Result<&[u32]> {
        self.typed(i, name, sys::NAPI_UINT32_ARRAY, "Uint32Array")
    }

    /// A number argument, as the double JS holds.
    fn number(&self, i: usize, name: &str) -> Result<f64> {
        let v = self.get(i, name)?;
        let env = self.env();
        let t = env.type_of(v)?;
        if t != sys::NAPI_NUMBER {
            return Err(Error::wrong_type(format!("argument {name} must be a number, got {}", type_name(t))));
        }
        let mut d = 0f64;
        check(unsafe { sys::napi_get_value_double(env.raw, v.raw, &mut d) }, "napi_get_value_double")?;
        Ok(d)
    }

    /// A number argument that must be an integer in `min..=max`.
    pub fn integer(&self, i: usize, name: &str, min: u32, max: u32) -> Result<u32> {
        let d = self.number(i, name)?;
        if d.fract() != 0.0 || !(min as f64..=max as f64).contains(&d) {
            return Err(Error::invalid_argument(format!("argument {name} must be an integer in {min}..={max}, got {d}")));
        }
        Ok(d as u32)
    }

    /// A number argument that must be an integer in 0..=2^53-1 (exact as a JS number).
    pub fn safe_integer(&self, i: usize, name: &str) -> Result<u64> {
        let d = self.number(i, name)?;
        const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
        if d.fract() != 0.0 || !(0.0..=MAX_SAFE).contains(&d) {
            return Err(Error::invalid_argument(format!("argument {name} must be an integer in 0..=2^53-1, got {d}")));
        }
        Ok(d as u64)
    }

    /// A bigint argument in 0..2^64.
    pub fn bigint_u64(&self, i: usize, name: &str) -> Result<u64> {
        let v = self.get(i, name)?;
        let env = self.env();
        let t = env.type_of(v)?;
        if t != sys::NAPI_BIGINT {
            return Err(Error::wrong_type(format!("argument {name} must be a bigint, got {}", type_name(t))));
        }
        let mut out = 0u64;
        let mut lossless = false;
        let status = unsafe { sys::napi_get_value_bigint_uint64(env.raw, v.raw, &mut out, &mut lossless) };
        check(status, "napi_get_value_bigint_uint64")?;
        if !lossless {
            return Err(Error::invalid_argument(format!("argument {name} must be a bigint in 0..2^64")));
        }
        Ok(out)
    }
}

/// The one C entry point of every export: it finds the Rust handler (passed as the function's
/// `data`), runs it, and turns an `Err` or a panic into a thrown JS error, so nothing unwinds
/// into V8 and a bug becomes an RKV_ERR_INTERNAL exception rather than a dead process.
unsafe extern "C" fn trampoline(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let e = Env { raw: env };
    let mut argc = ARGS_MAX;
    let mut argv = [null_mut(); ARGS_MAX];
    let mut data: *mut c_void = null_mut();
    let status = sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), null_mut(), &mut data);
    if status != sys::NAPI_OK || data.is_null() {
        e.throw(&Error::internal("napi_get_cb_info failed"));
        return null_mut();
    }
    // SAFETY: `data` was made from a `Handler` in `register` and is never anything else.
    let handler: Handler = std::mem::transmute::<*mut c_void, Handler>(data);
    let args = Args { argv, argc: argc.min(ARGS_MAX), env };
    let outcome = catch_unwind(AssertUnwindSafe(|| handler(&e, &args)));
    match outcome {
        Ok(Ok(v)) => v.raw,
        Ok(Err(err)) => {
            e.throw(&err);
            null_mut()
        }
        Err(_) => {
            e.throw(&Error::internal("ringkv native addon panicked (a bug); the call was abandoned"));
            null_mut()
        }
    }
}

/// Puts one JS function per handler on `exports`.
fn register(env: sys::napi_env, exports: sys::napi_value, list: &[(&CStr, Handler)]) -> Result<()> {
    for &(name, handler) in list {
        let mut f = null_mut();
        let bytes = name.to_bytes();
        // SAFETY: env/exports come from Node's module init; name is NUL-terminated and static.
        let status = unsafe {
            sys::napi_create_function(env, bytes.as_ptr() as *const c_char, bytes.len(), Some(trampoline), handler as *mut c_void, &mut f)
        };
        check(status, "napi_create_function")?;
        check(unsafe { sys::napi_set_named_property(env, exports, name.as_ptr(), f) }, "napi_set_named_property")?;
    }
    Ok(())
}

/// Module initialisation, found by Node through this exact symbol name.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: sys::napi_env, exports: sys::napi_value) -> sys::napi_value {
    let outcome = catch_unwind(AssertUnwindSafe(|| register(env, exports, crate::exports::EXPORTS)));
    match outcome {
        Ok(Ok(())) => exports,
        Ok(Err(err)) => {
            Env { raw: env }.throw(&err);
            null_mut()
        }
        Err(_) => {
            Env { raw: env }.throw(&Error::internal("ringkv native addon panicked while loading"));
            null_mut()
        }
    }
}
