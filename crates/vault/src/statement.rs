//! Statements assembled at run time (optional filters, `IN` lists), with
//! `$n` placeholders on both backends.
//!
//! sqlx's own `QueryBuilder` writes the placeholders of its database, and
//! the `Any` driver's are `?`, which PostgreSQL rejects; `$n` is what every
//! fixed statement of this crate already uses, and SQLite accepts it too.

use std::fmt::{Display, Write};

use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, FromRow, Type};

use crate::error::CatalogError;

/// A statement being written: text plus its bound values, in order.
#[derive(Default)]
pub(crate) struct Statement {
    sql: String,
    args: AnyArguments,
    /// The first bind that failed to encode, reported when the statement runs.
    error: Option<sqlx::error::BoxDynError>,
}

impl Statement {
    /// A statement starting with `init`.
    pub(crate) fn new(init: impl Into<String>) -> Self {
        Statement {
            sql: init.into(),
            ..Statement::default()
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: impl Display) -> &mut Self {
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "{text}");
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        let n = self.args.len();
        self.push(format_args!("${n}"))
    }

    /// Appends one placeholder per item of `values`, separated by commas.
    pub(crate) fn push_bind_list<'t, T, I>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        T: Encode<'t, Any> + Type<Any>,
    {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self
    }

    fn parts(self) -> Result<(AssertSqlSafe<String>, AnyArguments), CatalogError> {
        match self.error {
            Some(e) => Err(CatalogError::Database(sqlx::Error::Encode(e))),
            None => Ok((AssertSqlSafe(self.sql), self.args)),
        }
    }

    /// The statement, to read rows as `O`; fails if a value could not be
    /// bound.
    pub(crate) fn build_query_as<'q, O>(
        self,
    ) -> Result<QueryAs<'q, Any, O, AnyArguments>, CatalogError>
    where
        O: for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        let (sql, args) = self.parts()?;
        Ok(sqlx::query_as_with(sql, args))
    }
}
