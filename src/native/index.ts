// The only module that loads the Rust addon (native/ringkv.<platform>.node). Everything else
// imports these typed functions. See native/src for the implementation and the byte layouts.
// CONTRACT (filled in by the native work; signatures are fixed so other modules can code against them).
