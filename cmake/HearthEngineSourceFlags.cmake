# Which engine source files get which compile options: one list for the engine's own build
# (engine/CMakeLists.txt) and the fuzz build (tests/fuzz/CMakeLists.txt), so that neither
# compiles a kernel file without its ISA flags (its non-x86 fallback, which aborts) nor a
# bit-exact file with contracted multiply-adds.
#
# hearth_set_engine_source_flags(ENGINE_DIR) sets them on the files under ENGINE_DIR/src, in
# the calling directory's scope (source file properties belong to a directory).
function(hearth_set_engine_source_flags engine_dir)
    set(src ${engine_dir}/src)
    # Bit-exactness with the reference needs every multiply and add rounded on its own: the
    # dequantizers, the quantizers (byte-identical to ggml's reference quantizers), and the
    # portable dot products (the bits of llama.cpp's x86 kernels, on every target).
    set_source_files_properties(${src}/quant/dequantize.cpp ${src}/quant/dequantize_grid.cpp
        ${src}/quant/quantize_rows.cpp ${src}/quant/quantize_k.cpp
        ${src}/quant/quantize_types.cpp ${src}/quant/quant_search.cpp
        ${src}/quant/quantize_weighted.cpp ${src}/cpu/vec_dot_portable.cpp
        PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
    if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86)$")
        return() # elsewhere the x86 kernel files compile to stubs and the portable kernels run
    endif()
    # The AVX2 kernel files; matmul.cpp calls them after detection.
    set_source_files_properties(${src}/cpu/vec_dot_avx2.cpp ${src}/cpu/vec_dot_lowbit_avx2.cpp
        ${src}/cpu/vec_dot_q6_k_avx2.cpp
        ${src}/cpu/gemv_q4_1_avx2.cpp
        ${src}/cpu/gemv_q5_k_avx2.cpp
        ${src}/cpu/gemv_q6_k_avx2.cpp
        ${src}/cpu/gemv_block32_avx2.cpp
        ${src}/cpu/gemv_avx2.cpp ${src}/cpu/gemv_float_avx2.cpp
        ${src}/cpu/repack_avx2.cpp
        ${src}/cpu/gemm_block32_avx2.cpp
        ${src}/cpu/gemm_q5_k_avx2.cpp
        ${src}/cpu/gemm_q6_k_avx2.cpp
        ${src}/cpu/gemm_float_avx2.cpp
        ${src}/cpu/int8_gemm_avx2.cpp
        ${src}/cpu/int8_ksuper_avx2.cpp
        ${src}/cpu/int8_convert_float_avx2.cpp PROPERTIES
        COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    # The int8 prefill kernels' VNNI builds, picked at run time where the CPU has them.
    # (int8_gemm_avx512vnni.cpp, 256- and 512-bit, is among the AVX-512 files below.)
    set_source_files_properties(${src}/cpu/int8_gemm_avxvnni.cpp ${src}/cpu/int8_ksuper_avxvnni.cpp PROPERTIES
        COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavxvnni")
    # The AVX-512 kernels (single tokens, the exact prefill's tiles and packed batches, the fast
    # prefill's int8 kernel), picked at run time where the CPU has them. GCC 12 warns inside its own 512-bit intrinsics
    # (their _mm512_undefined_* pass-through operands, GCC bug 105593, fixed in 13), so those two
    # warnings are off for these files there.
    set_source_files_properties(
        ${src}/cpu/vec_dot_avx512.cpp
        ${src}/cpu/repack_avx512.cpp
        ${src}/cpu/gemv_q4_1_avx512.cpp
        ${src}/cpu/gemv_q5_k_avx512.cpp
        ${src}/cpu/gemv_q6_k_avx512.cpp
        ${src}/cpu/gemm_q5_k_avx512.cpp
        ${src}/cpu/gemm_block32_avx512.cpp
        ${src}/cpu/gemm_q6_k_avx512.cpp
        ${src}/cpu/repack_batch_avx512.cpp
        ${src}/cpu/gemm_float_avx512.cpp
        ${src}/cpu/int8_gemm_avx512vnni.cpp
        ${src}/cpu/int8_ksuper_avx512vnni.cpp
        PROPERTIES
        COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni;$<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-uninitialized;-Wno-maybe-uninitialized>")
    # The activation quantizer's AVX2 form: the scalar form's bits, so no contracted x * id + c
    set_source_files_properties(${src}/cpu/quantize_act_avx2.cpp PROPERTIES
        COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-ffp-contract=off")
    # ggml's operation order for the forward pass (cpu/ggml_numerics.h), used at the avx2 level
    set_source_files_properties(${src}/cpu/ggml_numerics.cpp ${src}/cpu/attention_tiles.cpp PROPERTIES
        COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    # the same for the gated delta-net's loops (cpu/delta_net_ggml.h)
    set_source_files_properties(${src}/cpu/delta_net_ggml.cpp PROPERTIES
        COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
endfunction()
