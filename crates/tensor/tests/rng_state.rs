//! libtorch's random state through [`RngState`]: captured, drawn from, restored, the same
//! draws again; bytes libtorch refuses are an error, never a crash. The tests of this file
//! share libtorch's global generators, so each holds [`GENERATORS`] while it draws.

use std::sync::Mutex;

use aecraft_tensor::rng_state::{Restored, RngState};
use tch::{Cuda, Device, Kind, Tensor};

static GENERATORS: Mutex<()> = Mutex::new(());

/// Draws from every generator: normals on the CPU and on each CUDA device, uniform integers
/// and a dropout mask on the CPU.
fn draws() -> Vec<Tensor> {
    let mut draws = vec![
        Tensor::randn([64], (Kind::Float, Device::Cpu)),
        Tensor::randint(1000, [16], (Kind::Int64, Device::Cpu)),
        Tensor::ones([32], (Kind::Float, Device::Cpu)).dropout(0.5, true),
    ];
    for device in 0..Cuda::device_count() {
        let cuda = Device::Cuda(device as usize);
        draws.push(Tensor::randn([64], (Kind::Float, cuda)).to_device(Device::Cpu));
    }
    draws
}

#[test]
fn a_restored_state_draws_the_same_numbers_again() {
    let _generators = GENERATORS.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(11);
    let _ = draws(); // somewhere in the stream, not at its seeded start
    let saved = RngState::capture().unwrap();
    assert_eq!(saved.cuda.len(), Cuda::device_count() as usize);
    let first = draws();
    let other = draws();
    assert_eq!(saved.restore().unwrap(), Restored::All);
    let again = draws();
    assert!(first.iter().zip(&again).all(|(a, b)| a.equal(b)));
    assert!(!first[0].equal(&other[0]), "the stream moves on");
    // The state survives serialization (a checkpoint saves it as JSON).
    let text = serde_json::to_string(&saved).unwrap();
    let back: RngState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, saved);
    back.restore().unwrap();
    assert!(draws()[0].equal(&first[0]));
}

#[test]
fn bytes_libtorch_refuses_are_an_error_naming_the_generator() {
    let _generators = GENERATORS.lock().unwrap_or_else(|e| e.into_inner());
    let good = RngState::capture().unwrap();
    for bytes in [Vec::new(), vec![1, 2, 3], vec![7; good.cpu.len() + 1]] {
        let garbage = RngState {
            cpu: bytes,
            cuda: Vec::new(),
        };
        let err = garbage.restore().unwrap_err().to_string();
        assert!(
            err.starts_with("libtorch's random state of cpu: ") && !err.contains('\n'),
            "{err}"
        );
    }
    // A state of as many bytes as a real one, but not a valid twister.
    let zeros = RngState {
        cpu: vec![0; good.cpu.len()],
        cuda: Vec::new(),
    };
    let err = zeros.restore().unwrap_err().to_string();
    assert!(err.contains("mt19937"), "{err}");
    // Still usable afterwards.
    good.restore().unwrap();
    let a = Tensor::randn([4], (Kind::Float, Device::Cpu));
    good.restore().unwrap();
    assert!(a.equal(&Tensor::randn([4], (Kind::Float, Device::Cpu))));
}

#[test]
fn a_state_from_other_cuda_devices_restores_the_cpu_and_says_so() {
    let _generators = GENERATORS.lock().unwrap_or_else(|e| e.into_inner());
    let mut saved = RngState::capture().unwrap();
    let present = saved.cuda.len();
    saved.cuda.push(vec![0; 16]);
    let a = Tensor::randn([4], (Kind::Float, Device::Cpu));
    assert_eq!(
        saved.restore().unwrap(),
        Restored::CudaDevicesDiffer {
            saved: present + 1,
            present
        }
    );
    assert!(a.equal(&Tensor::randn([4], (Kind::Float, Device::Cpu))));
}
