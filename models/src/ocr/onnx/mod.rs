//! Just enough of an ONNX file to load a hand-written port from it: the graph's nodes with
//! their attributes, its constant tensors (`Constant` nodes and initializers) and the model's
//! metadata. Nothing is executed here; [`Graph`] answers "which node consumes this tensor",
//! so a port walks the data flow the way its `forward` does, and every weight it takes is
//! checked for shape where it is taken.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod wire;

/// A constant tensor.
#[derive(Debug, Clone)]
pub struct Const {
    /// Its dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// Its values, widened to `f32` or `i64`.
    pub data: ConstData,
}

/// A constant's values.
#[derive(Debug, Clone)]
pub enum ConstData {
    /// FLOAT (and DOUBLE, narrowed).
    F32(Vec<f32>),
    /// INT64 and INT32.
    I64(Vec<i64>),
}

impl Const {
    /// The values as floats, or `None` for an integer tensor.
    pub fn floats(&self) -> Option<&[f32]> {
        match &self.data {
            ConstData::F32(v) => Some(v),
            ConstData::I64(_) => None,
        }
    }

    /// The single value of a scalar or one-element float tensor.
    pub fn scalar(&self) -> Option<f32> {
        match self.floats() {
            Some([x]) => Some(*x),
            _ => None,
        }
    }
}

/// A node attribute.
#[derive(Debug, Clone)]
pub enum Attr {
    /// `f`.
    Float(f32),
    /// `i`.
    Int(i64),
    /// `ints`.
    Ints(Vec<i64>),
    /// `floats`.
    Floats(Vec<f32>),
    /// `s`, as text.
    Str(String),
    /// `t`.
    Tensor(Const),
}

/// One graph node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its position in the file's (topological) order.
    pub index: usize,
    /// `op_type`, e.g. `Conv`.
    pub op: String,
    /// Input tensor names (an empty name is an omitted optional input).
    pub inputs: Vec<String>,
    /// Output tensor names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attrs: HashMap<String, Attr>,
}

impl Node {
    /// Its first output.
    pub fn out(&self) -> &str {
        self.outputs.first().map(String::as_str).unwrap_or("")
    }

    /// An integer-list attribute.
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attrs.get(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }

    /// An integer attribute.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Attr::Int(v)) => Some(*v),
            _ => None,
        }
    }

    /// A float attribute.
    pub fn float(&self, name: &str) -> Option<f32> {
        match self.attrs.get(name) {
            Some(Attr::Float(v)) => Some(*v),
            _ => None,
        }
    }

    /// A string attribute.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Attr::Str(v)) => Some(v),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        format!("node {} ({} → {})", self.index, self.op, self.out())
    }
}

/// An ONNX model's graph, constants and metadata.
#[derive(Debug)]
pub struct Graph {
    path: PathBuf,
    nodes: Vec<Node>,
    consts: HashMap<String, Const>,
    consumers: HashMap<String, Vec<usize>>,
    /// `metadata_props`, e.g. the recogniser's `character` list.
    pub metadata: HashMap<String, String>,
    /// The graph's input names (initializers excluded).
    pub inputs: Vec<String>,
}

impl Graph {
    /// Reads and indexes an ONNX file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes, path)
    }

    /// Parses ONNX bytes; `path` names them in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Weights {
            path: path.to_path_buf(),
            reason: format!("not a readable ONNX model: {reason}"),
        };
        let model = wire::read_model(bytes).map_err(bad)?;
        let mut consts = model.initializers;
        let mut nodes = Vec::new();
        for node in model.nodes {
            if node.op == "Constant" {
                let value = match node.attrs.get("value") {
                    Some(Attr::Tensor(t)) => t.clone(),
                    Some(Attr::Float(x)) => Const {
                        dims: vec![],
                        data: ConstData::F32(vec![*x]),
                    },
                    Some(Attr::Int(x)) => Const {
                        dims: vec![],
                        data: ConstData::I64(vec![*x]),
                    },
                    _ => {
                        return Err(bad(format!(
                            "Constant node {} has no tensor value",
                            node.out()
                        )))
                    }
                };
                consts.insert(node.out().to_string(), value);
            } else {
                nodes.push(node);
            }
        }
        let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            node.index = i;
            for input in &node.inputs {
                consumers.entry(input.clone()).or_default().push(i);
            }
        }
        let inputs = model
            .inputs
            .into_iter()
            .filter(|name| !consts.contains_key(name))
            .collect();
        Ok(Graph {
            path: path.to_path_buf(),
            nodes,
            consts,
            consumers,
            metadata: model.metadata,
            inputs,
        })
    }

    /// The file this graph came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A loading error naming the file.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Weights {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// The constant named `name`, if it is one.
    pub fn constant(&self, name: &str) -> Option<&Const> {
        self.consts.get(name)
    }

    /// The nodes reading `tensor`, in file order.
    pub fn consumers(&self, tensor: &str) -> impl Iterator<Item = &Node> {
        self.consumers
            .get(tensor)
            .into_iter()
            .flatten()
            .map(|&i| &self.nodes[i])
    }

    /// The one node of type `op` that reads `tensor` and satisfies `pick`.
    pub fn consumer_where(
        &self,
        tensor: &str,
        op: &str,
        pick: impl Fn(&Node) -> bool,
    ) -> Result<&Node> {
        let mut found = self.consumers(tensor).filter(|n| n.op == op && pick(n));
        match (found.next(), found.next()) {
            (Some(node), None) => Ok(node),
            (None, _) => {
                Err(self.error(format!("expected a {op} node reading {tensor}, found none")))
            }
            (Some(a), Some(b)) => Err(self.error(format!(
                "expected one {op} node reading {tensor}, found {} and {}",
                a.describe(),
                b.describe()
            ))),
        }
    }

    /// The one node of type `op` that reads `tensor`.
    pub fn consumer(&self, tensor: &str, op: &str) -> Result<&Node> {
        self.consumer_where(tensor, op, |_| true)
    }

    /// Whether some node of type `op` reads `tensor`.
    pub fn has_consumer(&self, tensor: &str, op: &str) -> bool {
        self.consumers(tensor).any(|n| n.op == op)
    }

    /// The first node (breadth first from `tensor`, along the data flow) of type `op` that
    /// satisfies `pick`: how a port skips shape plumbing that carries no weights.
    pub fn downstream(
        &self,
        tensor: &str,
        op: &str,
        pick: impl Fn(&Node) -> bool,
    ) -> Result<&Node> {
        let mut queue = std::collections::VecDeque::from([tensor.to_string()]);
        let mut seen = std::collections::HashSet::new();
        while let Some(t) = queue.pop_front() {
            for node in self.consumers(&t) {
                if !seen.insert(node.index) {
                    continue;
                }
                if node.op == op && pick(node) {
                    return Ok(node);
                }
                queue.extend(node.outputs.iter().cloned());
            }
        }
        Err(self.error(format!("no {op} node follows {tensor}")))
    }

    /// Input `i` of `node`, which must be a float constant of shape `dims`.
    pub fn weight(&self, node: &Node, i: usize, dims: &[usize]) -> Result<Vec<f32>> {
        let name = node.inputs.get(i).filter(|n| !n.is_empty());
        let name =
            name.ok_or_else(|| self.error(format!("{} lacks input {i}", node.describe())))?;
        let c = self.consts.get(name).ok_or_else(|| {
            self.error(format!(
                "{} input {i} ({name}) is not a constant",
                node.describe()
            ))
        })?;
        if c.dims != dims {
            return Err(self.error(format!(
                "{} input {i} ({name}) has shape {:?}, the port expects {dims:?}",
                node.describe(),
                c.dims
            )));
        }
        c.floats().map(<[f32]>::to_vec).ok_or_else(|| {
            self.error(format!(
                "{} input {i} ({name}) is not float",
                node.describe()
            ))
        })
    }

    /// The constant input of a two-input elementwise node (`Mul(c, x)` or `Add(x, c)`), with the
    /// name of its other input.
    pub fn const_operand<'g>(&'g self, node: &'g Node) -> Option<(&'g Const, &'g str)> {
        match node.inputs.as_slice() {
            [a, b] => match (self.consts.get(a), self.consts.get(b)) {
                (Some(c), None) => Some((c, b)),
                (None, Some(c)) => Some((c, a)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Checks a node's attribute against what the port assumes.
    pub fn expect(&self, node: &Node, what: &str, ok: bool) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.error(format!("{}: {what}", node.describe())))
        }
    }
}
