//! A value that a face's async work takes out of its state while it awaits the GPU (so that no
//! borrow is held across the await) and puts back afterwards. Meanwhile a second taker is
//! refused, and a value set meanwhile (a new run, loaded weights) wins over the one coming back.
//! The page holds each panel's run in one; the rules are tested here, natively.

use crate::app::AppError;

#[derive(Debug)]
pub struct Held<T> {
    value: Option<T>,
    busy: bool,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held { value: None, busy: false }
    }
}

impl<T> Held<T> {
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.as_mut()
    }

    /// Whether a [`take`](Self::take) holds the value now.
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Forgets the value (work in flight will then drop the one it holds).
    pub fn clear(&mut self) {
        self.value = None;
    }

    /// Replaces the value (work in flight will then drop the one it holds).
    pub fn set(&mut self, value: T) {
        self.value = Some(value);
    }

    /// Takes the value out for async work: [`AppError::NotNow`] with `busy` while another taker
    /// holds it, with `missing` without a value.
    pub fn take(&mut self, busy: &str, missing: &str) -> Result<T, AppError> {
        if self.busy {
            return Err(AppError::NotNow(busy.into()));
        }
        let value = self.value.take().ok_or_else(|| AppError::NotNow(missing.into()))?;
        self.busy = true;
        Ok(value)
    }

    /// Ends a `take` keeping nothing: whether no other value was set meanwhile.
    pub fn release(&mut self) -> bool {
        self.busy = false;
        self.value.is_none()
    }

    /// Ends a `take`: keeps `value` unless another was set meanwhile; whether it was kept.
    pub fn put_back(&mut self, value: T) -> bool {
        self.busy = false;
        let kept = self.value.is_none();
        if kept {
            self.value = Some(value);
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_value_refuses_a_second_taker_and_comes_back() {
        let mut h = Held::default();
        assert_eq!(h.take("busy", "missing"), Err(AppError::NotNow("missing".into())));
        h.set(1);
        let v = h.take("busy", "missing").unwrap();
        assert!(h.busy() && h.get().is_none());
        assert_eq!(h.take("busy", "missing"), Err(AppError::NotNow("busy".into())));
        assert!(h.put_back(v + 1));
        assert!(!h.busy());
        assert_eq!(h.get(), Some(&2));
    }

    #[test]
    fn a_value_set_while_taken_wins_over_the_one_coming_back() {
        let mut h = Held::default();
        h.set("old");
        let v = h.take("busy", "missing").unwrap();
        h.set("new");
        assert!(!h.put_back(v));
        assert_eq!(h.get(), Some(&"new"));
        // released: nothing kept, and a value set meanwhile survives
        let _ = h.take("busy", "missing").unwrap();
        assert!(h.release());
        assert!(h.get().is_none() && !h.busy());
        h.set("x");
        let _ = h.take("busy", "missing").unwrap();
        h.set("y");
        assert!(!h.release());
        assert_eq!(h.get(), Some(&"y"));
        h.clear();
        assert!(h.get().is_none());
    }
}
