(module
  ;; Counts the newlines in a slice of a log and notes any carriage return, 16 bytes a step
  ;; (WebAssembly SIMD). Compiled into line-scan-wasm.ts by `npm run wasm:line-scan`; used by
  ;; line-scan.ts, which copies each slice of up to 256 KB to the start of this memory.
  (memory (export "memory") 4 4)
  ;; 1 once a carriage return was seen by `count` since the caller last cleared it.
  (global $cr (export "cr") (mut i32) (i32.const 0))
  ;; Newlines in memory[p, p + n).
  (func (export "count") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $stop i32) (local $total i32) (local $v v128) (local $acc v128) (local $crs v128)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -16))))
    (block $vectors_done
      (loop $blocks
        (br_if $vectors_done (i32.ge_u (local.get $p) (local.get $end)))
        ;; At most 255 vectors per block: each byte lane of $acc counts up to 255.
        (local.set $stop (i32.add (local.get $p) (i32.const 4080)))
        (if (i32.gt_u (local.get $stop) (local.get $end)) (then (local.set $stop (local.get $end))))
        (local.set $acc (v128.const i64x2 0 0))
        (loop $vectors
          (local.set $v (v128.load (local.get $p)))
          ;; eq gives -1 in each matching lane: subtracting it adds one.
          (local.set $acc (i8x16.sub (local.get $acc) (i8x16.eq (local.get $v) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))
          (local.set $crs (v128.or (local.get $crs) (i8x16.eq (local.get $v) (v128.const i8x16 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $p) (local.get $stop))))
        (local.set $acc (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $acc))))
        (local.set $total (i32.add (local.get $total)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
        (br $blocks)))
    (if (v128.any_true (local.get $crs)) (then (global.set $cr (i32.const 1))))
    ;; The last n mod 16 bytes, one at a time.
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 15))))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 10)) (then (local.set $total (i32.add (local.get $total) (i32.const 1)))))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 13)) (then (global.set $cr (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    (local.get $total)))
