//! A batch's writes to a projector's tables, applied as set operations: the rows a batch
//! inserts go in one multi-row `INSERT` per table, its changes to earlier rows in one
//! `UPDATE … FROM (VALUES …)` per kind of change — a handful of statements per batch of
//! 500 events instead of one per event, which is what a rebuild's speed turns on.
//!
//! Projectors say what changes, row by row, as they would with one statement each; a
//! change to a row inserted in the same batch is made to it before it is written. A
//! statement that does not fit these shapes goes straight to the transaction through
//! [`Writes::conn`], which first writes what is buffered, so every statement sees the
//! batch's earlier events applied.

use sqlx::{Any, AnyConnection, AssertSqlSafe, Transaction};
use std::collections::{BTreeMap, HashMap};

/// A projector's table as the batch writes it: rows are given in `columns` order, and
/// rows are changed by the first column, which must be its primary key. Declare it
/// `static`: the batch tells tables apart by address.
#[derive(Debug)]
pub struct Table {
    /// The table's name.
    pub name: &'static str,
    /// Its columns, the key first.
    pub columns: &'static [&'static str],
}

/// A column's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `TEXT`.
    Text(String),
    /// `BIGINT`.
    Int(i64),
    /// `NULL`, of a `TEXT` column.
    Null,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

/// How a change sets a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// To this value.
    Set(Value),
    /// To its text, a space and this (`col = col || ' ' || v`).
    Append(String),
}

impl Change {
    /// This change made after `earlier`, as one change.
    fn after(self, earlier: Self) -> Self {
        match (earlier, self) {
            (Self::Set(Value::Text(mut v)), Self::Append(s)) => {
                v.push(' ');
                v.push_str(&s);
                Self::Set(Value::Text(v))
            }
            (Self::Append(mut a), Self::Append(s)) => {
                a.push(' ');
                a.push_str(&s);
                Self::Append(a)
            }
            (_, later) => later,
        }
    }

    /// Which statement carries it: the column's SQL and the kind of its value.
    fn shape(&self) -> (bool, bool) {
        match self {
            Self::Set(Value::Text(_) | Value::Null) => (false, false),
            Self::Set(Value::Int(_)) => (false, true),
            Self::Append(_) => (true, false),
        }
    }
}

/// The changes to one row: each column (by its place in the table) once.
type Changes = Vec<(usize, Change)>;

/// What the batch does to one table.
#[derive(Debug)]
struct Pending {
    table: &'static Table,
    /// New rows, in the order inserted.
    rows: Vec<Vec<Value>>,
    /// Where each new row's key is in `rows`.
    inserted: HashMap<String, usize>,
    /// Changes to rows from before the batch, by key, each column once.
    changes: BTreeMap<String, Changes>,
}

/// The rows a statement may carry: its parameters stay well under SQLite's limit (32,766)
/// and PostgreSQL's (65,535).
const MAX_PARAMETERS: usize = 8_000;

/// A batch's transaction and the writes not yet sent to it.
#[derive(Debug)]
pub struct Writes {
    tx: Transaction<'static, Any>,
    pending: Vec<Pending>,
}

fn key_text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Null => String::new(),
    }
}

impl Writes {
    /// Writes in a transaction of their own on `pool`.
    pub async fn begin(pool: &sqlx::AnyPool) -> Result<Self, sqlx::Error> {
        Ok(Self {
            tx: pool.begin().await?,
            pending: Vec::new(),
        })
    }

    fn pending(&mut self, table: &'static Table) -> &mut Pending {
        let at = match self
            .pending
            .iter()
            .position(|p| std::ptr::eq(p.table, table))
        {
            Some(at) => at,
            None => {
                self.pending.push(Pending {
                    table,
                    rows: Vec::new(),
                    inserted: HashMap::new(),
                    changes: BTreeMap::new(),
                });
                self.pending.len() - 1
            }
        };
        &mut self.pending[at]
    }

    /// Inserts `row` (its values in `table.columns` order) into `table`.
    pub fn insert(&mut self, table: &'static Table, row: Vec<Value>) -> Result<(), sqlx::Error> {
        if row.len() != table.columns.len() {
            return Err(sqlx::Error::Protocol(format!(
                "a row of {} values for the {} columns of {}",
                row.len(),
                table.columns.len(),
                table.name
            )));
        }
        let pending = self.pending(table);
        if let Some(key) = row.first().map(key_text) {
            // A change to this key made earlier in the batch found no row (an insert of
            // a key that was there fails, below or at the flush): it changed nothing.
            pending.changes.remove(&key);
            pending.inserted.insert(key, pending.rows.len());
        }
        pending.rows.push(row);
        Ok(())
    }

    /// Changes the row of `table` whose key is `key`, if there is one; none is no change.
    pub fn update(
        &mut self,
        table: &'static Table,
        key: &str,
        changes: Vec<(&str, Change)>,
    ) -> Result<(), sqlx::Error> {
        let columns = changes
            .into_iter()
            .map(
                |(column, change)| match table.columns.iter().position(|c| *c == column) {
                    Some(at) if at > 0 => Ok((at, change)),
                    _ => Err(sqlx::Error::ColumnNotFound(format!(
                        "{}.{column}",
                        table.name
                    ))),
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        let pending = self.pending(table);
        if let Some(&row) = pending.inserted.get(key) {
            for (at, change) in columns {
                let value = &mut pending.rows[row][at];
                *value = match change.after(Change::Set(value.clone())) {
                    Change::Set(v) => v,
                    Change::Append(s) => Value::Text(s),
                };
            }
            return Ok(());
        }
        let known = pending.changes.entry(key.to_owned()).or_default();
        for (at, change) in columns {
            match known.iter_mut().find(|(c, _)| *c == at) {
                Some((_, earlier)) => {
                    let was = std::mem::replace(earlier, Change::Append(String::new()));
                    *earlier = change.after(was);
                }
                None => known.push((at, change)),
            }
        }
        Ok(())
    }

    /// The transaction, with every buffered write sent to it first: for a statement
    /// that reads the projector's tables or does not fit [`Writes::insert`] and
    /// [`Writes::update`].
    pub async fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        self.flush().await?;
        Ok(&mut *self.tx)
    }

    /// Sends the buffered writes.
    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        for pending in std::mem::take(&mut self.pending) {
            insert_rows(&mut self.tx, pending.table, pending.rows).await?;
            update_rows(&mut self.tx, pending.table, pending.changes).await?;
        }
        Ok(())
    }

    /// Sends the buffered writes and commits.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.flush().await?;
        self.tx.commit().await
    }
}

fn bind(
    query: sqlx::query::Query<'_, Any, sqlx::any::AnyArguments>,
    value: Value,
) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
    match value {
        Value::Text(s) => query.bind(s),
        Value::Int(i) => query.bind(i),
        Value::Null => query.bind(None::<String>),
    }
}

/// `($1, $2, …), (…)` for `rows` rows of `width` values — or `(?, ?, …)` on SQLite,
/// which looks each `$N` up by name, a cost that grows with the square of their number.
fn placeholders(conn: &AnyConnection, rows: usize, width: usize) -> String {
    let numbered = conn.backend_name() != "SQLite";
    let mut out = String::new();
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            if numbered {
                out.push_str(&format!("${}", r * width + c + 1));
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

async fn insert_rows(
    conn: &mut AnyConnection,
    table: &Table,
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    let width = table.columns.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(MAX_PARAMETERS / width).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            table.name,
            table.columns.join(", "),
            placeholders(conn, chunk.len(), width)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for value in chunk.into_iter().flatten() {
            query = bind(query, value);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn update_rows(
    conn: &mut AnyConnection,
    table: &Table,
    changes: BTreeMap<String, Changes>,
) -> Result<(), sqlx::Error> {
    // Rows changed in the same columns the same way go in one statement.
    type Shape = Vec<(usize, (bool, bool))>;
    let mut shapes: BTreeMap<Shape, Vec<(String, Changes)>> = BTreeMap::new();
    for (key, mut row) in changes {
        row.sort_by_key(|(at, _)| *at);
        let shape = row.iter().map(|(at, c)| (*at, c.shape())).collect();
        shapes.entry(shape).or_default().push((key, row));
    }
    for (shape, rows) in shapes {
        let width = shape.len() + 1;
        let set: Vec<String> = shape
            .iter()
            .enumerate()
            .map(|(i, (at, (append, _)))| {
                let column = table.columns[*at];
                if *append {
                    format!("{column} = t.{column} || ' ' || v.column{}", i + 2)
                } else {
                    format!("{column} = v.column{}", i + 2)
                }
            })
            .collect();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(MAX_PARAMETERS / width).collect();
            // `VALUES` names its columns column1, column2, … on both backends.
            let sql = format!(
                "UPDATE {table} AS t SET {set} FROM (VALUES {values}) AS v WHERE t.{key} = v.column1",
                table = table.name,
                set = set.join(", "),
                values = placeholders(conn, chunk.len(), width),
                key = table.columns[0],
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (key, row) in chunk {
                query = query.bind(key);
                for (_, change) in row {
                    query = match change {
                        Change::Set(v) => bind(query, v),
                        Change::Append(s) => query.bind(s),
                    };
                }
            }
            query.execute(&mut *conn).await?;
        }
    }
    Ok(())
}
