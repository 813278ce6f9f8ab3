//! Walking a burn module's float parameters by their dotted module path
//! (`semantic.image.conv1.weight`): the one place that tracks `enter_module`/`exit_module`.
//! Weight files, checkpoints and shape listings all name parameters this way.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Reads each float parameter together with its path.
pub trait VisitByPath {
    fn visit<const D: usize>(&mut self, path: &str, param: &Param<Tensor<D>>);
}

/// Replaces each float parameter, knowing its path.
pub trait MapByPath {
    fn map<const D: usize>(&mut self, path: &str, param: Param<Tensor<D>>) -> Param<Tensor<D>>;
}

/// Visits every float parameter of `module` with its path.
pub fn visit<M: Module>(module: &M, visitor: &mut impl VisitByPath) {
    module.visit(&mut Paths {
        stack: Vec::new(),
        inner: visitor,
    });
}

/// Maps every float parameter of `module` with its path.
pub fn map<M: Module>(module: M, mapper: &mut impl MapByPath) -> M {
    module.map(&mut Paths {
        stack: Vec::new(),
        inner: mapper,
    })
}

struct Paths<'a, T> {
    stack: Vec<String>,
    inner: &'a mut T,
}

impl<T> Paths<'_, T> {
    fn path(&self) -> String {
        self.stack.join(".")
    }
}

impl<T: VisitByPath> ModuleVisitor for Paths<'_, T> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path();
        self.inner.visit(&path, param);
    }
}

impl<T: MapByPath> ModuleMapper for Paths<'_, T> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path();
        self.inner.map(&path, param)
    }
}
