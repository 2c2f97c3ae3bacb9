//! Just enough of an ONNX file to load a hand-written port from it: the graph's nodes with
//! their attributes, its constant tensors (`Constant` nodes and initializers) and the model's
//! metadata. Nothing is executed here; [`Graph`] answers "which node consumes this tensor",
//! so a port walks the data flow the way its `forward` does, and every weight it takes is
//! checked for shape where it is taken.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::protobuf::{Fields, Value};

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
        let model = read_model(bytes).map_err(bad)?;
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

struct RawModel {
    nodes: Vec<Node>,
    initializers: HashMap<String, Const>,
    inputs: Vec<String>,
    metadata: HashMap<String, String>,
}

type Parse<T> = std::result::Result<T, String>;

fn text(bytes: &[u8]) -> Parse<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
}

fn read_model(bytes: &[u8]) -> Parse<RawModel> {
    let mut model = RawModel {
        nodes: Vec::new(),
        initializers: HashMap::new(),
        inputs: Vec::new(),
        metadata: HashMap::new(),
    };
    let mut graph = None;
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (7, Value::Bytes(g)) => graph = Some(g),
            (14, Value::Bytes(entry)) => {
                let (mut key, mut val) = (String::new(), String::new());
                let mut f = Fields::new(entry);
                while let Some((n, v)) = f.next_field()? {
                    match (n, v) {
                        (1, Value::Bytes(b)) => key = text(b)?,
                        (2, Value::Bytes(b)) => val = text(b)?,
                        _ => {}
                    }
                }
                model.metadata.insert(key, val);
            }
            _ => {}
        }
    }
    let graph = graph.ok_or("it has no graph")?;
    let mut fields = Fields::new(graph);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(n)) => model.nodes.push(read_node(n)?),
            (5, Value::Bytes(t)) => {
                let (name, c) = read_tensor(t)?;
                model.initializers.insert(name, c);
            }
            (11, Value::Bytes(v)) => {
                let mut f = Fields::new(v);
                while let Some((n, v)) = f.next_field()? {
                    if let (1, Value::Bytes(b)) = (n, v) {
                        model.inputs.push(text(b)?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(model)
}

fn read_node(bytes: &[u8]) -> Parse<Node> {
    let mut node = Node {
        index: 0,
        op: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: HashMap::new(),
    };
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => node.inputs.push(text(b)?),
            (2, Value::Bytes(b)) => node.outputs.push(text(b)?),
            (4, Value::Bytes(b)) => node.op = text(b)?,
            (5, Value::Bytes(b)) => {
                let (name, attr) = read_attr(b)?;
                if let Some(attr) = attr {
                    node.attrs.insert(name, attr);
                }
            }
            _ => {}
        }
    }
    Ok(node)
}

fn read_attr(bytes: &[u8]) -> Parse<(String, Option<Attr>)> {
    let mut name = String::new();
    let (mut ints, mut floats) = (Vec::new(), Vec::new());
    let mut single = None;
    let mut kind = 0;
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => name = text(b)?,
            (2, Value::Fixed32(x)) => single = Some(Attr::Float(f32::from_bits(x))),
            (3, Value::Varint(x)) => single = Some(Attr::Int(x as i64)),
            (4, Value::Bytes(b)) => {
                single = Some(Attr::Str(String::from_utf8_lossy(b).into_owned()))
            }
            (5, Value::Bytes(b)) => single = Some(Attr::Tensor(read_tensor(b)?.1)),
            (7, Value::Fixed32(x)) => floats.push(f32::from_bits(x)),
            (7, Value::Bytes(b)) => floats.extend(packed_f32(b)?),
            (8, Value::Varint(x)) => ints.push(x as i64),
            (8, Value::Bytes(b)) => ints.extend(packed_varints(b)?.into_iter().map(|x| x as i64)),
            (20, Value::Varint(k)) => kind = k,
            _ => {}
        }
    }
    // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
    let attr = match kind {
        6 => Some(Attr::Floats(floats)),
        7 => Some(Attr::Ints(ints)),
        _ => single,
    };
    Ok((name, attr))
}

fn packed_varints(bytes: &[u8]) -> Parse<Vec<u64>> {
    let mut f = Fields::new(bytes);
    let mut out = Vec::new();
    while !f.is_empty() {
        out.push(f.varint()?);
    }
    Ok(out)
}

fn packed_f32(bytes: &[u8]) -> Parse<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err("a packed float array has a partial value".into());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// TensorProto → (name, constant). Data types: FLOAT 1, INT32 6, INT64 7, DOUBLE 11.
fn read_tensor(bytes: &[u8]) -> Parse<(String, Const)> {
    let (mut dims, mut name, mut kind, mut raw) = (Vec::new(), String::new(), 0, None);
    let (mut floats, mut ints, mut doubles) = (Vec::new(), Vec::new(), Vec::new());
    let mut fields = Fields::new(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Varint(d)) => dims.push(d),
            (1, Value::Bytes(b)) => dims.extend(packed_varints(b)?),
            (2, Value::Varint(k)) => kind = k,
            (4, Value::Fixed32(x)) => floats.push(f32::from_bits(x)),
            (4, Value::Bytes(b)) => floats.extend(packed_f32(b)?),
            (5 | 7, Value::Varint(x)) => ints.push(x as i64),
            (5 | 7, Value::Bytes(b)) => {
                ints.extend(packed_varints(b)?.into_iter().map(|x| x as i64))
            }
            (8, Value::Bytes(b)) => name = text(b)?,
            (9, Value::Bytes(b)) => raw = Some(b),
            (10, Value::Bytes(b)) => doubles.extend(
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32),
            ),
            _ => {}
        }
    }
    let dims: Vec<usize> = dims
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| format!("tensor {name} has a negative dimension")))
        .collect::<Parse<_>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("tensor {name} is too large"))?;
    let data = match (kind, raw) {
        (1, Some(b)) => ConstData::F32(packed_f32(b)?),
        (1, None) => ConstData::F32(floats),
        (11, Some(b)) => ConstData::F32(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        ),
        (11, None) => ConstData::F32(doubles),
        (7, Some(b)) => ConstData::I64(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        (6, Some(b)) => ConstData::I64(
            b.chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
                .collect(),
        ),
        (6 | 7, None) => ConstData::I64(ints),
        // Other types (bool, uint8, …) are kept without values: no port takes them as weights.
        _ => ConstData::I64(Vec::new()),
    };
    let len = match &data {
        ConstData::F32(v) => v.len(),
        ConstData::I64(v) => v.len(),
    };
    if matches!(kind, 1 | 6 | 7 | 11) && len != count {
        return Err(format!(
            "tensor {name} holds {len} values for shape {dims:?} ({count})"
        ));
    }
    Ok((name, Const { dims, data }))
}
