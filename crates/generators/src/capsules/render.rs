//! The hard-coded part of the capsule generator: warping templates by their poses with
//! differentiable bilinear sampling (libtorch's affine grid and grid sample), summing the
//! capsules, and squashing the sum into pixel values.

use tch::{Kind, Tensor};

use super::pose::{identity, invert};

/// libtorch's code for bilinear interpolation in `grid_sampler`.
const BILINEAR: i64 = 0;
/// libtorch's code for zero padding outside the template in `grid_sampler`.
const ZEROS: i64 = 0;
/// Pixels are clamped to at least this before the thickness power, whose gradient at 0 is
/// infinite for exponents below 1.
const MIN_PIXEL: f64 = 1e-6;

/// Warps `templates` (`[N, h, w]`) by `poses` (`[N, 2, 3]`, template → canvas, see
/// [`super::pose`]) onto a `height`×`width` canvas: `[N, height, width]`. With a
/// `displacement` field (`[N, height, width, 2]`, normalized canvas coordinates, see
/// [`super::deformation`]) the canvas pixel `p` shows the template at `pose⁻¹(p + d(p))`.
///
/// Under the identity pose (and no displacement) a template fills the canvas (resampled
/// when its size differs). Outside the template, the canvas is 0.
pub fn warp(
    templates: &Tensor,
    poses: &Tensor,
    displacement: Option<&Tensor>,
    height: i64,
    width: i64,
) -> Tensor {
    let n = templates.size()[0];
    // The sampling grid maps canvas coordinates back into the template: the inverse pose.
    let inverse = invert(poses);
    let size = [n, 1, height, width];
    let grid = match displacement {
        None => Tensor::affine_grid_generator(&inverse, size, false),
        Some(field) => {
            let canvas = Tensor::affine_grid_generator(&identity(n, poses), size, false) + field;
            let linear = inverse.narrow(-1, 0, 2).transpose(1, 2);
            let shift = inverse.select(-1, 2).view([n, 1, 1, 2]);
            canvas
                .view([n, height * width, 2])
                .matmul(&linear)
                .view([n, height, width, 2])
                + shift
        }
    };
    templates
        .unsqueeze(1)
        .grid_sampler(&grid, BILINEAR, ZEROS, false)
        .squeeze_dim(1)
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
    use crate::capsules::pose::{PoseBounds, POSE_UNITS};
    use aecraft_tensor::gradcheck::check_gradients;
    use tch::Device;

    fn random(shape: &[i64]) -> Tensor {
        Tensor::rand(shape, (Kind::Double, Device::Cpu))
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
        // What moved in from outside the template is empty.
        assert_eq!(
            out.narrow(1, 0, 3)
                .abs()
                .sum(Kind::Double)
                .double_value(&[]),
            0.0
        );
        assert_eq!(
            out.narrow(2, 0, 2)
                .abs()
                .sum(Kind::Double)
                .double_value(&[]),
            0.0
        );
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
        let zero = Tensor::zeros([3, 11, 8, 2], (Kind::Double, Device::Cpu));
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
        let field = Tensor::zeros([1, 12, 10, 2], (Kind::Double, Device::Cpu));
        let _ = field.select(3, 0).fill_(2.0 * 2.0 / 10.0);
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
            let field = deformation.field(u, 6, 5);
            let capsules = warp(&templates, &poses, Some(&field), 6, 5).unsqueeze(1);
            (composite(&capsules, None) - &target)
                .square()
                .sum(Kind::Double)
        };
        check_gradients(loss, &units).unwrap();
    }
}
