#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dojo_transport::fuzzing::headers(data);
});
