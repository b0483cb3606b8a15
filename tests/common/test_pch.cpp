// The one source of hearth_test_headers: what the header image is built from (test_pch.h).
