//! The hard-coded part of the capsule generator: warping templates by their poses with
//! differentiable bilinear sampling (libtorch's grid sample), summing the capsules, and
//! squashing the sum into pixel values.
//!
//! The sampling grid of a warp is one matrix product: each image's coefficients (its inverse
//! pose, then the pose's linear part applied to its displacement weights) times fixed maps
//! over the canvas (the pixel centres' x, y and 1, then the displacement's basis maps). This
//! is libtorch's affine grid plus the displacement, 5 to 25 times faster than building the
//! affine grid and the dense displacement field one by one.

use tch::{Kind, Tensor};

use super::pose::invert;

/// libtorch's code for bilinear interpolation in `grid_sampler`.
const BILINEAR: i64 = 0;
/// libtorch's code for zero padding outside the template in `grid_sampler`.
const ZEROS: i64 = 0;
/// Pixels are clamped to at least this before the thickness power, whose gradient at 0 is
/// infinite for exponents below 1.
const MIN_PIXEL: f64 = 1e-6;

/// A displacement field over a canvas of `P` pixels as a combination of fixed maps:
/// `d(p) = Σ_k control[.., k] · basis[k, p]`, in libtorch's normalized canvas coordinates
/// (one pixel is `2 / width` along x and `2 / height` along y).
#[derive(Debug)]
pub struct Displacement {
    /// The weights of each map, x then y: `[N, 2, M]`.
    pub control: Tensor,
    /// The maps over the canvas pixels in row-major order: `[M, P]`.
    pub basis: Tensor,
}

impl Displacement {
    /// The same displacement for each image repeated `times` in a row (the capsules of a
    /// cluster share its field).
    pub fn repeat_each(&self, times: i64) -> Self {
        Self {
            control: self.control.repeat_interleave_self_int(times, 0, None),
            basis: self.basis.shallow_clone(),
        }
    }

    /// The dense field on a `height`×`width` canvas: `[N, height, width, 2]`, the layout of a
    /// sampling grid.
    pub fn field(&self, height: i64, width: i64) -> Tensor {
        let n = self.control.size()[0];
        self.control
            .matmul(&self.basis)
            .view([n, 2, height, width])
            .permute([0, 2, 3, 1])
    }
}

/// Warps `templates` (`[N, h, w]`) by `poses` (`[N, 2, 3]`, template → canvas, see
/// [`super::pose`]) onto a `height`×`width` canvas: `[N, height, width]`. With a
/// `displacement` (see [`super::deformation`]) the canvas pixel `p` shows the template at
/// `pose⁻¹(p + d(p))`.
///
/// Under the identity pose (and no displacement) a template fills the canvas (resampled
/// when its size differs). Outside the template, the canvas is 0.
pub fn warp(
    templates: &Tensor,
    poses: &Tensor,
    displacement: Option<&Displacement>,
    height: i64,
    width: i64,
) -> Tensor {
    let n = templates.size()[0];
    // The sampling grid maps canvas coordinates back into the template: the inverse pose,
    // applied to the pixel centres (x, y, 1) moved by the displacement.
    let inverse = invert(poses);
    let centres = pixel_centres(height, width, poses);
    let (coefficients, maps) = match displacement {
        None => (inverse, centres),
        Some(d) => {
            let moved = inverse.narrow(-1, 0, 2).matmul(&d.control);
            (
                Tensor::cat(&[inverse, moved], 2),
                Tensor::cat(&[centres, d.basis.to_kind(poses.kind())], 0),
            )
        }
    };
    let terms = coefficients.size()[2];
    let grid = coefficients
        .reshape([2 * n, terms])
        .matmul(&maps)
        .view([n, 2, height, width])
        .permute([0, 2, 3, 1]);
    templates
        .unsqueeze(1)
        .grid_sampler(&grid, BILINEAR, ZEROS, false)
        .squeeze_dim(1)
}

/// The canvas pixels' centres in normalized coordinates (libtorch's affine grid without
/// corner alignment), row-major, with a row of ones: `[3, height · width]` = x, y, 1.
fn pixel_centres(height: i64, width: i64, like: &Tensor) -> Tensor {
    let options = (like.kind(), like.device());
    let axis = |size: i64| (Tensor::arange(size, options) * 2.0 + 1.0) / size as f64 - 1.0;
    let x = axis(width).view([1, width]).expand([height, width], false);
    let y = axis(height)
        .view([height, 1])
        .expand([height, width], false);
    let ones = Tensor::ones([height, width], options);
    Tensor::stack(&[x, y, ones], 0).view([3, height * width])
}

/// Sums warped capsules (`[N, C, H, W]`) into `[N, H*W]` pixels: the sum clamped to
/// `[0, 1]`, then raised to the power `exp(thickness)` (`[N]`; 0 keeps the sum; negative
/// values thicken strokes, positive ones thin them).
pub fn composite(capsules: &Tensor, thickness: Option<&Tensor>) -> Tensor {
    let summed = capsules
        .sum_dim_intlist(1, false, None::<Kind>)
        .flatten(1, -1)
        .clamp(0.0, 1.0);
    match thickness {
        Some(g) => summed.clamp_min(MIN_PIXEL).pow(&g.exp().unsqueeze(-1)),
        None => summed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capsules::deformation::DeformationBounds;
    use crate::capsules::pose::{identity, PoseBounds, POSE_UNITS};
    use aecraft_tensor::gradcheck::check_gradients;
    use tch::Device;

    fn random(shape: &[i64]) -> Tensor {
        Tensor::rand(shape, (Kind::Double, Device::Cpu))
    }

    /// The same displacement `shift` (x, y; normalized) at every pixel of `n` canvases.
    fn uniform(shift: &[f64; 2], n: i64, height: i64, width: i64) -> Displacement {
        let control = Tensor::from_slice(shift).view([1, 2, 1]).repeat([n, 1, 1]);
        let basis = Tensor::ones([1, height * width], (Kind::Double, Device::Cpu));
        Displacement { control, basis }
    }

    #[test]
    fn the_grid_is_libtorchs_affine_grid_moved_by_the_dense_field() {
        tch::manual_seed(3);
        let (n, height, width) = (4, 9, 7);
        let templates = random(&[n, 6, 5]);
        let units = Tensor::randn([n, POSE_UNITS], (Kind::Double, Device::Cpu));
        let poses = PoseBounds::default().affine(&units, height, width);
        let displacement = Displacement {
            control: Tensor::randn([n, 2, 3], (Kind::Double, Device::Cpu)) * 0.1,
            basis: random(&[3, height * width]),
        };
        // The definition: affine grid of the identity, plus the field, then the inverse pose.
        let size = [n, 1, height, width];
        let canvas = Tensor::affine_grid_generator(&identity(n, &poses), size, false)
            + displacement.field(height, width);
        let inverse = invert(&poses);
        let grid = canvas
            .view([n, height * width, 2])
            .matmul(&inverse.narrow(-1, 0, 2).transpose(1, 2))
            .view([n, height, width, 2])
            + inverse.select(-1, 2).view([n, 1, 1, 2]);
        let expected = templates
            .unsqueeze(1)
            .grid_sampler(&grid, BILINEAR, ZEROS, false)
            .squeeze_dim(1);
        let out = warp(&templates, &poses, Some(&displacement), height, width);
        assert!(out.allclose(&expected, 1e-12, 1e-12, false));
        let affine = Tensor::affine_grid_generator(&inverse, size, false);
        let expected = templates
            .unsqueeze(1)
            .grid_sampler(&affine, BILINEAR, ZEROS, false)
            .squeeze_dim(1);
        assert!(
            warp(&templates, &poses, None, height, width).allclose(&expected, 1e-12, 1e-12, false)
        );
    }

    #[test]
    fn the_identity_reproduces_the_template() {
        tch::manual_seed(0);
        let templates = random(&[3, 28, 28]);
        let out = warp(&templates, &identity(3, &templates), None, 28, 28);
        assert!(out.allclose(&templates, 1e-9, 1e-9, false));
    }

    #[test]
    fn a_pure_translation_moves_the_image_by_whole_pixels() {
        tch::manual_seed(1);
        let template = random(&[1, 12, 10]);
        // 2 pixels right and 3 pixels down, in normalized units (2 / size per pixel).
        let pose = Tensor::from_slice(&[1.0f64, 0.0, 2.0 * 2.0 / 10.0, 0.0, 1.0, 3.0 * 2.0 / 12.0])
            .view([1, 2, 3]);
        let out = warp(&template, &pose, None, 12, 10);
        let moved = out.narrow(1, 3, 9).narrow(2, 2, 8);
        let source = template.narrow(1, 0, 9).narrow(2, 0, 8);
        assert!(moved.allclose(&source, 1e-9, 1e-9, false));
        // What moved in from outside the template is empty (up to the round-off of the
        // grid's matrix product, about 1e-16 per pixel).
        for outside in [out.narrow(1, 0, 3), out.narrow(2, 0, 2)] {
            let total = outside.abs().sum(Kind::Double).double_value(&[]);
            assert!(total < 1e-12, "{total}");
        }
    }

    #[test]
    fn gradients_match_finite_differences_for_templates() {
        tch::manual_seed(2);
        let units = Tensor::randn([2, POSE_UNITS], (Kind::Double, Device::Cpu));
        let poses = PoseBounds::default().affine(&units, 6, 5);
        let target = random(&[2, 30]);
        let templates = random(&[2, 4, 4]) * 0.8 + 0.1;
        let loss = |t: &Tensor| {
            let capsules = warp(t, &poses, None, 6, 5).unsqueeze(1);
            (composite(&capsules, None) - &target)
                .square()
                .sum(Kind::Double)
        };
        check_gradients(loss, &templates).unwrap();
    }

    #[test]
    fn gradients_match_finite_differences_for_pose_units_and_thickness() {
        tch::manual_seed(4);
        let templates = random(&[2, 2, 5, 5]) * 0.4 + 0.1;
        let target = random(&[2, 30]);
        let thickness_and_units =
            Tensor::randn([2, 1 + 2 * POSE_UNITS], (Kind::Double, Device::Cpu));
        let loss = |x: &Tensor| {
            let thickness = x.select(1, 0).tanh();
            let units = x.narrow(1, 1, 2 * POSE_UNITS).reshape([4, POSE_UNITS]);
            let poses = PoseBounds::default().affine(&units, 6, 5);
            let capsules =
                warp(&templates.reshape([4, 5, 5]), &poses, None, 6, 5).view([2, 2, 6, 5]);
            (composite(&capsules, Some(&thickness)) - &target)
                .square()
                .sum(Kind::Double)
        };
        check_gradients(loss, &thickness_and_units).unwrap();
    }

    #[test]
    fn a_zero_displacement_warps_as_the_pose_alone() {
        tch::manual_seed(5);
        let templates = random(&[3, 9, 7]);
        let units = Tensor::randn([3, POSE_UNITS], (Kind::Double, Device::Cpu));
        let poses = PoseBounds::default().affine(&units, 11, 8);
        let zero = uniform(&[0.0, 0.0], 3, 11, 8);
        let affine = warp(&templates, &poses, None, 11, 8);
        let bent = warp(&templates, &poses, Some(&zero), 11, 8);
        assert!(bent.allclose(&affine, 1e-12, 1e-12, false));
    }

    #[test]
    fn a_uniform_displacement_is_a_shift_in_whole_pixels() {
        tch::manual_seed(6);
        let template = random(&[1, 12, 10]);
        let identity_pose = identity(1, &template);
        // Every canvas pixel reads 2 pixels to its right: the drawing moves 2 pixels left.
        let field = uniform(&[2.0 * 2.0 / 10.0, 0.0], 1, 12, 10);
        let out = warp(&template, &identity_pose, Some(&field), 12, 10);
        let moved = out.narrow(2, 0, 8);
        assert!(moved.allclose(&template.narrow(2, 2, 8), 1e-9, 1e-9, false));
    }

    #[test]
    fn gradients_match_finite_differences_for_deformation_units() {
        tch::manual_seed(7);
        let deformation = DeformationBounds {
            grid: 3,
            pixels: 1.5,
            ..Default::default()
        };
        let templates = random(&[2, 5, 5]) * 0.8 + 0.1;
        let poses = PoseBounds::default().affine(
            &Tensor::randn([2, POSE_UNITS], (Kind::Double, Device::Cpu)),
            6,
            5,
        );
        let target = random(&[2, 30]);
        let units = Tensor::randn([2, deformation.units()], (Kind::Double, Device::Cpu));
        let loss = |u: &Tensor| {
            let field = deformation.displacement(u, 6, 5);
            let capsules = warp(&templates, &poses, Some(&field), 6, 5).unsqueeze(1);
            (composite(&capsules, None) - &target)
                .square()
                .sum(Kind::Double)
        };
        check_gradients(loss, &units).unwrap();
    }
}
