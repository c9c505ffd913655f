//! Four f32 lanes: wasm simd128 (with relaxed FMA where the build enables `relaxed-simd`), SSE on x86_64, or a
//! portable array elsewhere.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    pub type F4 = v128;

    #[inline(always)]
    pub fn splat(x: f32) -> F4 {
        f32x4_splat(x)
    }

    /// # Safety
    /// `p` must point to 4 readable floats.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> F4 {
        v128_load(p as *const v128)
    }

    /// # Safety
    /// `p` must point to 4 writable floats.
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: F4) {
        v128_store(p as *mut v128, v)
    }

    /// a·b + c; fused (one rounding) in the relaxed-SIMD build.
    #[inline(always)]
    pub fn madd(a: F4, b: F4, c: F4) -> F4 {
        #[cfg(target_feature = "relaxed-simd")]
        {
            f32x4_relaxed_madd(a, b, c)
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            f32x4_add(f32x4_mul(a, b), c)
        }
    }

    #[inline(always)]
    pub fn add(a: F4, b: F4) -> F4 {
        f32x4_add(a, b)
    }

    #[inline(always)]
    pub fn max(a: F4, b: F4) -> F4 {
        f32x4_pmax(a, b)
    }

    #[inline(always)]
    pub fn min(a: F4, b: F4) -> F4 {
        f32x4_pmin(a, b)
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::x86_64::*;

    pub type F4 = __m128;

    #[inline(always)]
    pub fn splat(x: f32) -> F4 {
        // SAFETY: SSE is part of x86_64.
        unsafe { _mm_set1_ps(x) }
    }

    /// # Safety
    /// `p` must point to 4 readable floats.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> F4 {
        _mm_loadu_ps(p)
    }

    /// # Safety
    /// `p` must point to 4 writable floats.
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: F4) {
        _mm_storeu_ps(p, v)
    }

    /// a·b + c, rounded twice like the baseline wasm build.
    #[inline(always)]
    pub fn madd(a: F4, b: F4, c: F4) -> F4 {
        // SAFETY: SSE is part of x86_64.
        unsafe { _mm_add_ps(_mm_mul_ps(a, b), c) }
    }

    #[inline(always)]
    pub fn add(a: F4, b: F4) -> F4 {
        // SAFETY: SSE is part of x86_64.
        unsafe { _mm_add_ps(a, b) }
    }

    #[inline(always)]
    pub fn max(a: F4, b: F4) -> F4 {
        // SAFETY: SSE is part of x86_64.
        unsafe { _mm_max_ps(a, b) }
    }

    #[inline(always)]
    pub fn min(a: F4, b: F4) -> F4 {
        // SAFETY: SSE is part of x86_64.
        unsafe { _mm_min_ps(a, b) }
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
mod imp {
    pub type F4 = [f32; 4];

    #[inline(always)]
    pub fn splat(x: f32) -> F4 {
        [x; 4]
    }

    /// # Safety
    /// `p` must point to 4 readable floats.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> F4 {
        core::ptr::read_unaligned(p as *const F4)
    }

    /// # Safety
    /// `p` must point to 4 writable floats.
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: F4) {
        core::ptr::write_unaligned(p as *mut F4, v)
    }

    /// a·b + c, rounded twice like the baseline wasm build.
    #[inline(always)]
    pub fn madd(a: F4, b: F4, c: F4) -> F4 {
        core::array::from_fn(|i| a[i] * b[i] + c[i])
    }

    #[inline(always)]
    pub fn add(a: F4, b: F4) -> F4 {
        core::array::from_fn(|i| a[i] + b[i])
    }

    #[inline(always)]
    pub fn max(a: F4, b: F4) -> F4 {
        core::array::from_fn(|i| if a[i] < b[i] { b[i] } else { a[i] })
    }

    #[inline(always)]
    pub fn min(a: F4, b: F4) -> F4 {
        core::array::from_fn(|i| if b[i] < a[i] { b[i] } else { a[i] })
    }
}

pub use imp::*;
