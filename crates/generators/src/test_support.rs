//! Shared checks of the generators' unit tests: a two-group code, each image drawn from its
//! own code only, and learning to draw a bar at a coded column.

use tch::nn::{self, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

use aecraft_codes::{Code, GroupWidths};

use crate::Generator;

/// The widths of [`two_groups`]: `z` of 3 units and `side` of 2.
pub(crate) fn two_group_widths() -> GroupWidths {
    GroupWidths::from([("z".to_owned(), 3), ("side".to_owned(), 2)])
}

/// A random code of `batch` images with the groups of [`two_group_widths`].
pub(crate) fn two_groups(batch: i64) -> Code {
    let mut code = Code::new();
    code.insert("z", Tensor::randn([batch, 3], (Kind::Float, Device::Cpu)));
    code.insert(
        "side",
        Tensor::randn([batch, 2], (Kind::Float, Device::Cpu)),
    );
    code
}

/// Changing the third image's `z` changes its pixels and leaves the other two's alone.
pub(crate) fn assert_each_image_is_drawn_from_its_own_code(generator: &dyn Generator) {
    let mut code = two_groups(3);
    let first = generator.generate(&code, false).unwrap();
    let z = code.get("z").unwrap().copy();
    let _ = z.get(2).fill_(7.0);
    code.insert("z", z);
    let second = generator.generate(&code, false).unwrap();
    assert!(first
        .narrow(0, 0, 2)
        .allclose(&second.narrow(0, 0, 2), 0.0, 0.0, false));
    assert!(!first.get(2).allclose(&second.get(2), 1e-6, 1e-6, false));
}

/// Trains `build`'s generator (from a one-unit code `z`, to 8×8 images) for 300 Adam steps
/// to draw a vertical bar at column `c`, coded as `(c − 3.5) / 3.5`; returns the mean
/// binary cross-entropy before and after.
pub(crate) fn bar_drawing_losses<G: Generator>(
    build: impl FnOnce(&nn::Path, &GroupWidths) -> G,
) -> (f64, f64) {
    let columns = Tensor::arange(8, (Kind::Int64, Device::Cpu));
    let images = columns
        .one_hot(8)
        .to_kind(Kind::Float)
        .unsqueeze(1)
        .expand([8, 8, 8], false)
        .reshape([8, 64]);
    let mut code = Code::new();
    code.insert(
        "z",
        ((columns.to_kind(Kind::Float) - 3.5) / 3.5).unsqueeze(1),
    );
    let vs = VarStore::new(Device::Cpu);
    let generator = build(&vs.root(), &GroupWidths::from([("z".to_owned(), 1)]));
    let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
    let loss = |generator: &G| {
        generator
            .generate(&code, true)
            .unwrap()
            .binary_cross_entropy_with_logits::<Tensor>(&images, None, None, tch::Reduction::Mean)
    };
    let before = loss(&generator).double_value(&[]);
    for _ in 0..300 {
        opt.backward_step(&loss(&generator));
    }
    (before, loss(&generator).double_value(&[]))
}
