// The source of obsmon_test_pch (tests/CMakeLists.txt): a target needs one to carry the
// precompiled header that every test target reuses. It defines nothing.
