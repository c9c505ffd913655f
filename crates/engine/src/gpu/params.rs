//! Typed kernel parameters: one `#[repr(C)]` struct per WGSL entry point, mirrored field for field (same
//! names, same order) by a WGSL `struct` of the same name that the entry point reads from its binding 0
//! as `var<storage, read>` (the entry points of one .wgsl file each declare their own variable at binding 0:
//! WGSL allows that as long as no entry point uses two of them). Every field is a `u32` or `f32` (or a nested params struct), so the Rust
//! layout (`repr(C)`, 4-byte aligned, no padding) is the WGSL storage layout; the tests below check each
//! struct against its WGSL twin.
//!
//! Shapes have no maximum rank in the engine, so variable-length data does not go in fixed-size arrays:
//! broadcast axes and MatMul's per-batch offsets follow the struct in the same buffer, as the WGSL
//! struct's last, runtime-sized array field (`axes: array<BinaryAxis>`). Index maps and reduction offsets
//! stay separate `array<u32>` bindings.

use bytemuck::Pod;

/// A kernel's parameter struct: its WGSL twin's name and its fields, for the layout tests.
pub(super) trait Params: Pod {
    /// The WGSL struct of the same layout.
    const NAME: &'static str;
    /// (field name, byte offset) in declaration order.
    #[cfg_attr(not(test), allow(dead_code))]
    const FIELDS: &'static [(&'static str, usize)];
    /// The name of the WGSL struct's trailing runtime-sized array, if it has one.
    const TAIL: Option<&'static str>;
}

/// Declares a params struct (`#[repr(C)]`, `Pod`) and its `Params` description. An optional
/// `tail name: [Elem]` names the trailing runtime-sized array its WGSL twin ends with.
macro_rules! gpu_params {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$fmeta:meta])* $field:ident: $ty:ty,)*
        }
        $(tail $tail:ident: [$tail_ty:ty];)?
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::gpu::params::Params for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field))),*];
            const TAIL: Option<&'static str> = {
                #[allow(unused_mut, unused_assignments)]
                let mut tail = None;
                $(tail = Some(stringify!($tail));)?
                tail
            };
        }
    };
}
pub(super) use gpu_params;

/// The bytes of a params buffer: the struct, then the elements of its trailing runtime-sized array
/// (at least one, zeroed, so the binding always covers one element of the array it declares).
pub(super) fn bytes<P: Params, T: Pod + Default>(params: &P, tail: &[T]) -> Vec<u8> {
    let mut bytes = bytemuck::bytes_of(params).to_vec();
    if P::TAIL.is_some() {
        match tail {
            [] => bytes.extend_from_slice(bytemuck::bytes_of(&T::default())),
            _ => bytes.extend_from_slice(bytemuck::cast_slice(tail)),
        }
    } else {
        debug_assert!(tail.is_empty(), "{} has no trailing array", P::NAME);
    }
    bytes
}

/// A `usize` as a `u32` parameter.
pub(super) fn u(v: usize) -> u32 {
    v as u32
}

#[cfg(test)]
pub(super) mod tests {
    use super::Params;

    /// Every WGSL source a params struct may be declared in.
    const SOURCES: &[&str] = &[
        include_str!("common.wgsl"),
        include_str!("elementwise.wgsl"),
        include_str!("layout.wgsl"),
        include_str!("gemm.wgsl"),
        include_str!("conv.wgsl"),
        include_str!("pool.wgsl"),
        include_str!("norm.wgsl"),
        include_str!("reduce.wgsl"),
    ];

    /// The fields of WGSL `struct name { a: T, ... }` as (name, type).
    fn wgsl_struct(name: &str) -> Vec<(String, String)> {
        let header = format!("struct {name} {{");
        let found: Vec<&str> = SOURCES.iter().filter_map(|s| s.split_once(&header).map(|(_, rest)| rest)).collect();
        assert_eq!(found.len(), 1, "WGSL struct {name} should be declared exactly once");
        let body = found[0].split_once('}').expect("struct body ends").0;
        body.lines()
            .map(|l| l.split("//").next().unwrap().trim().trim_end_matches(','))
            .filter(|l| !l.is_empty())
            .flat_map(|l| l.split(',').map(str::trim).filter(|f| !f.is_empty()).collect::<Vec<_>>())
            .map(|f| {
                let (n, t) = f.split_once(':').unwrap_or_else(|| panic!("field {f:?} of {name}"));
                (n.trim().to_string(), t.trim().to_string())
            })
            .collect()
    }

    /// (size, align) of a WGSL type in the storage address space (scalars and structs of them).
    fn wgsl_size_align(ty: &str) -> (usize, usize) {
        match ty {
            "u32" | "i32" | "f32" => (4, 4),
            _ => {
                let (size, align, tail) = wgsl_layout(ty);
                assert!(tail.is_none(), "{ty} has a runtime-sized array and cannot be nested");
                (size, align)
            }
        }
    }

    /// A WGSL struct's size and alignment per the WGSL layout rules, and its runtime-sized array field
    /// (name, offset, element stride) if it ends with one.
    fn wgsl_layout(name: &str) -> (usize, usize, Option<(String, usize, usize)>) {
        let fields = wgsl_struct(name);
        let (mut offset, mut align) = (0usize, 1usize);
        let mut tail = None;
        for (i, (field, ty)) in fields.iter().enumerate() {
            if let Some(elem) = ty.strip_prefix("array<").and_then(|t| t.strip_suffix('>')) {
                assert!(!elem.contains(','), "{name}.{field}: fixed-size arrays are not used in params");
                assert_eq!(i, fields.len() - 1, "{name}.{field}: a runtime-sized array must come last");
                let (size, a) = wgsl_size_align(elem);
                offset = offset.next_multiple_of(a);
                align = align.max(a);
                tail = Some((field.clone(), offset, size.next_multiple_of(a)));
                continue;
            }
            let (size, a) = wgsl_size_align(ty);
            offset = offset.next_multiple_of(a) + size;
            align = align.max(a);
        }
        (offset.next_multiple_of(align), align, tail)
    }

    /// Checks that `P` and its WGSL twin agree on field names, order, offsets and size.
    pub(in crate::gpu) fn check<P: Params>() {
        let fields = wgsl_struct(P::NAME);
        let (size, _, tail) = wgsl_layout(P::NAME);
        let named: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let mut expected: Vec<&str> = P::FIELDS.iter().map(|(n, _)| *n).collect();
        expected.extend(P::TAIL);
        assert_eq!(named, expected, "fields of {}", P::NAME);
        let mut offset = 0usize;
        for ((field, ty), &(_, rust_offset)) in fields.iter().zip(P::FIELDS) {
            let (sz, a) = wgsl_size_align(ty);
            offset = offset.next_multiple_of(a);
            assert_eq!(rust_offset, offset, "offset of {}.{field}", P::NAME);
            offset += sz;
        }
        match tail {
            Some((field, at, _)) => {
                assert_eq!(P::TAIL, Some(field.as_str()), "trailing array of {}", P::NAME);
                assert_eq!(std::mem::size_of::<P>(), at, "{}.{field} starts right after the struct", P::NAME);
            }
            None => {
                assert_eq!(P::TAIL, None, "{} declares no trailing array in WGSL", P::NAME);
                assert_eq!(std::mem::size_of::<P>(), size, "size of {}", P::NAME);
            }
        }
    }

    #[test]
    fn bytes_append_the_trailing_array_and_never_leave_it_empty() {
        use crate::gpu::elementwise::{BinaryAxis, BinaryParams};
        let p = BinaryParams { n: 6, rank: 1 };
        let axis = BinaryAxis { dim: 6, a_stride: 1, b_stride: 0 };
        assert_eq!(
            super::bytes(&p, &[axis]),
            [6u32, 1, 6, 1, 0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>()
        );
        assert_eq!(super::bytes::<_, BinaryAxis>(&p, &[]).len(), 8 + 12);
    }
}
