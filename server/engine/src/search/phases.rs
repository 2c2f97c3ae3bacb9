//! How long each step of a query took, for the debug log (`trove_engine::search=debug`).

/// How long each step of a query took, for the debug log.
pub(super) struct Phases {
    last: std::time::Instant,
    ms: Vec<(&'static str, f64)>,
}

impl Phases {
    pub(super) fn start() -> Self {
        Phases {
            last: std::time::Instant::now(),
            ms: Vec::new(),
        }
    }

    /// Ends the step `name`.
    pub(super) fn mark(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.ms.push((name, (now - self.last).as_secs_f64() * 1e3));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, ms)) in self.ms.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={ms:.1}ms")?;
        }
        Ok(())
    }
}
