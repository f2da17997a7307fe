//! A batch's writes to a projector's tables, applied as set operations: the rows a batch
//! inserts go in one multi-row `INSERT` per table, its changes to earlier rows in one
//! `UPDATE … FROM` per kind of change — a handful of statements per batch instead of one
//! per event, which is what a rebuild's speed turns on. The rows travel as `VALUES` with
//! anonymous parameters on SQLite, and as one JSON parameter read by
//! `json_populate_recordset` on PostgreSQL (with sequential scans off, so that rows are
//! found by key).
//!
//! Projectors say what changes, row by row, as they would with one statement each; a
//! change to a row inserted in the same batch is made to it before it is written, and
//! [`Writes::int`] reads a value as the batch has left it without sending anything. A
//! statement that does not fit these shapes goes straight to the transaction through
//! [`Writes::conn`], which first writes what is buffered, so every statement sees the
//! batch's earlier events applied. A test checks that a batch ends as one statement per
//! change would have left it.

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

/// The parameters an SQLite statement may carry: well under its limit (32,766).
const MAX_PARAMETERS: usize = 8_000;

/// A batch's transaction and the writes not yet sent to it.
#[derive(Debug)]
pub struct Writes {
    tx: Transaction<'static, Any>,
    pending: Vec<Pending>,
    /// Whether PostgreSQL has been told to find changed rows by their keys.
    keyed: bool,
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
            keyed: false,
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
            // a key that was there fails at the flush): it changed nothing.
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

    /// The number in `column` of `table`'s row `key` as the batch has left it, if the
    /// row is there: read without sending the buffered writes.
    pub async fn int(
        &mut self,
        table: &'static Table,
        key: &str,
        column: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        match self.value(table, key, column).await? {
            Some(Value::Int(i)) => Ok(Some(i)),
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(_)) => Err(sqlx::Error::ColumnDecode {
                index: column.to_owned(),
                source: format!("{}.{column} holds text", table.name).into(),
            }),
        }
    }

    /// The text in `column` of `table`'s row `key` as the batch has left it, if the row
    /// is there and the column is not null.
    pub async fn text(
        &mut self,
        table: &'static Table,
        key: &str,
        column: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        match self.value(table, key, column).await? {
            Some(Value::Text(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(_)) => Err(sqlx::Error::ColumnDecode {
                index: column.to_owned(),
                source: format!("{}.{column} holds a number", table.name).into(),
            }),
        }
    }

    /// The value in `column` of `table`'s row `key` as the batch has left it, if the row
    /// is there: read without sending the buffered writes.
    async fn value(
        &mut self,
        table: &'static Table,
        key: &str,
        column: &str,
    ) -> Result<Option<Value>, sqlx::Error> {
        let at = table
            .columns
            .iter()
            .position(|c| *c == column)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(format!("{}.{column}", table.name)))?;
        let pending = self.pending(table);
        if let Some(&row) = pending.inserted.get(key) {
            return Ok(Some(pending.rows[row][at].clone()));
        }
        if let Some((_, Change::Set(v))) = pending
            .changes
            .get(key)
            .and_then(|c| c.iter().find(|(c, _)| *c == at))
        {
            let v = v.clone();
            let there = self.stored(table, key, column).await?.is_some();
            return Ok(there.then_some(v));
        }
        self.stored(table, key, column).await
    }

    /// The stored row's value, none if there is no row.
    async fn stored(
        &mut self,
        table: &Table,
        key: &str,
        column: &str,
    ) -> Result<Option<Value>, sqlx::Error> {
        use sqlx::Row as _;
        let sql = format!(
            "SELECT {column} FROM {} WHERE {} = $1",
            table.name, table.columns[0]
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?
        else {
            return Ok(None);
        };
        // The column is a number or text (or null): whichever decodes.
        if let Ok(i) = row.try_get::<Option<i64>, _>(0) {
            return Ok(Some(i.map_or(Value::Null, Value::Int)));
        }
        Ok(Some(
            row.try_get::<Option<String>, _>(0)?
                .map_or(Value::Null, Value::Text),
        ))
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
        let changes = self.pending.iter().any(|p| !p.changes.is_empty());
        if changes && !self.keyed && self.tx.backend_name() != "SQLite" {
            // For a hundred keys or so, PostgreSQL's planner prefers a hash join over a
            // scan of the whole table to an index lookup per key — which makes every
            // batch of a rebuild cost more than the last. The batch's statements all find
            // their rows by key.
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *self.tx)
                .await?;
            self.keyed = true;
        }
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

/// `(?, ?, …), (…)` for `rows` rows of `width` values: SQLite's anonymous parameters
/// (it looks each `$N` up by name, a cost that grows with the square of their number).
fn placeholders(rows: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

/// Rows as the one JSON parameter of PostgreSQL's `json_populate_recordset`: an array of
/// objects by column name. One parameter instead of thousands: PostgreSQL parses and
/// plans a statement with thousands of parameters in about the time it takes to run it.
fn json_rows<'a>(rows: impl Iterator<Item = Vec<(&'a str, Value)>>) -> String {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = rows
        .map(|row| {
            row.into_iter()
                .map(|(column, value)| {
                    let value = match value {
                        Value::Text(s) => serde_json::Value::String(s),
                        Value::Int(i) => serde_json::Value::from(i),
                        Value::Null => serde_json::Value::Null,
                    };
                    (column.to_owned(), value)
                })
                .collect()
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}

fn is_sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name() == "SQLite"
}

async fn insert_rows(
    conn: &mut AnyConnection,
    table: &Table,
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns = table.columns.join(", ");
    if !is_sqlite(conn) {
        let rows = rows
            .into_iter()
            .map(|row| table.columns.iter().copied().zip(row).collect());
        let sql = format!(
            "INSERT INTO {t} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{t}, CAST($1 AS json))",
            t = table.name
        );
        sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .bind(json_rows(rows))
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let width = table.columns.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(MAX_PARAMETERS / width).collect();
        let sql = format!(
            "INSERT INTO {} ({columns}) VALUES {}",
            table.name,
            placeholders(chunk.len(), width)
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
    let sqlite = is_sqlite(conn);
    let key = table.columns[0];
    for (shape, rows) in shapes {
        // The new values are v's columns: named as the table's in PostgreSQL's JSON rows,
        // column1, column2, … of SQLite's `VALUES`.
        let source = |i: usize, column: &str| {
            if sqlite {
                format!("v.column{}", i + 2)
            } else {
                format!("v.{column}")
            }
        };
        let set: Vec<String> = shape
            .iter()
            .enumerate()
            .map(|(i, (at, (append, _)))| {
                let column = table.columns[*at];
                let value = source(i, column);
                if *append {
                    format!("{column} = t.{column} || ' ' || {value}")
                } else {
                    format!("{column} = {value}")
                }
            })
            .collect();
        let set = set.join(", ");
        let value = |change: Change| match change {
            Change::Set(v) => v,
            Change::Append(s) => Value::Text(s),
        };
        if !sqlite {
            let rows = rows.into_iter().map(|(k, row)| {
                std::iter::once((key, Value::Text(k)))
                    .chain(row.into_iter().map(|(at, c)| (table.columns[at], value(c))))
                    .collect()
            });
            let sql = format!(
                "UPDATE {t} AS t SET {set} FROM json_populate_recordset(NULL::{t}, CAST($1 AS json)) AS v
                  WHERE t.{key} = v.{key}",
                t = table.name,
            );
            sqlx::query(AssertSqlSafe(sql))
                .persistent(false)
                .bind(json_rows(rows))
                .execute(&mut *conn)
                .await?;
            continue;
        }
        let width = shape.len() + 1;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(MAX_PARAMETERS / width).collect();
            let sql = format!(
                "UPDATE {t} AS t SET {set} FROM (VALUES {values}) AS v WHERE t.{key} = v.column1",
                t = table.name,
                values = placeholders(chunk.len(), width),
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (k, row) in chunk {
                query = query.bind(k);
                for (_, change) in row {
                    query = bind(query, value(change));
                }
            }
            query.execute(&mut *conn).await?;
        }
    }
    Ok(())
}
