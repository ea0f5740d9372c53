#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let case = dojo_transport::fuzzing::admission_case(data);
    let _ = dojo_transport::fuzzing::check_admission(&case);
});
