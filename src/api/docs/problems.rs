//! What every operation can really answer, besides what its handler documents: the errors
//! that the extractors and middleware add (malformed JSON, auth, body size and type,
//! validation, rate limits, PostgreSQL out of reach), all as `application/problem+json`.
//! Applied once to the whole document, so no handler has to repeat them and none can
//! forget them.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A status added to operations of one kind, unless the handler documents it already.
struct Added {
    status: &'static str,
    description: &'static str,
    applies: fn(&Operation, &str) -> bool,
}

fn always(_: &Operation, _: &str) -> bool {
    true
}

fn has_body(op: &Operation, _: &str) -> bool {
    op.request_body.is_some()
}

fn authenticated(op: &Operation, _: &str) -> bool {
    op.security.as_ref().is_some_and(|s| !s.is_empty())
}

/// Every route but health is rate limited: the customer and admin surfaces per principal
/// (downloads included), calls without a valid token (event ingest too) per client IP.
fn rate_limited(_: &Operation, path: &str) -> bool {
    !path.ends_with("/health")
}

fn has_parameters(op: &Operation, _: &str) -> bool {
    op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || op.request_body.is_some()
}

const ADDED: &[Added] = &[
    Added {
        status: "400",
        description: "Malformed request: JSON that does not parse, a bad header, query or path parameter",
        applies: has_parameters,
    },
    Added {
        status: "401",
        description: "No token, or one that is not valid",
        applies: authenticated,
    },
    Added {
        status: "403",
        description: "The token's principal or tenant may not do this",
        applies: authenticated,
    },
    Added {
        status: "413",
        description: "The body is larger than the endpoint takes",
        applies: has_body,
    },
    Added {
        status: "415",
        description: "The body is not `application/json`",
        applies: has_body,
    },
    Added {
        status: "422",
        description: "A field of the body or query is out of its bounds; `errors` lists each",
        applies: has_parameters,
    },
    Added {
        status: "429",
        description: "Too many requests; see `Retry-After` and `RateLimit`",
        applies: rate_limited,
    },
    Added {
        status: "503",
        description: "A dependency (PostgreSQL, Redis) is out of reach; retry later",
        applies: always,
    },
];

/// Completes every operation of `doc`: the statuses of [`ADDED`] where they apply, and
/// every error answer whose body is a `Problem` served as `application/problem+json`.
pub fn complete(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in operations(item) {
            for added in ADDED {
                if (added.applies)(op, path) {
                    op.responses
                        .responses
                        .entry(added.status.to_string())
                        .or_insert_with(|| RefOr::T(problem_response(added)));
                }
            }
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && is_error(status)
                {
                    serve_problems_as_problem_json(response);
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

fn problem_content() -> Content {
    Content::new(Some(Ref::from_schema_name("Problem")))
}

fn problem_response(added: &Added) -> Response {
    let mut builder = ResponseBuilder::new()
        .description(added.description)
        .content(PROBLEM_JSON, problem_content());
    if added.status == "429" {
        for (name, what) in [
            ("Retry-After", "Seconds until a request is allowed again"),
            (
                "RateLimit-Policy",
                "The limit: `\"default\";q=<requests>;w=<seconds>`",
            ),
            (
                "RateLimit",
                "What is left: `\"default\";r=<remaining>;t=<seconds>`",
            ),
        ] {
            let mut header = Header::default();
            header.description = Some(what.into());
            builder = builder.header(name, header);
        }
    }
    builder.build()
}

/// A documented `Problem` body is served as `application/problem+json`, not the
/// `application/json` utoipa assumes.
fn serve_problems_as_problem_json(response: &mut Response) {
    let is_problem = |c: &Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
    if let Some(content) = response.content.shift_remove("application/json") {
        let key = if is_problem(&content) {
            PROBLEM_JSON
        } else {
            "application/json"
        };
        response.content.insert(key.to_string(), content);
    }
}
