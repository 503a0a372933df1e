// placeholder: replaced by the native addon work
#[no_mangle]
pub extern "C" fn napi_register_module_v1(_env: *mut u8, exports: *mut u8) -> *mut u8 { exports }
