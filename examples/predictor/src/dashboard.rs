//! The live page: `GET /` and its script and stylesheet, embedded in the binary (no CDN, no
//! build step). The page polls `GET /api/summary` every 2 seconds (docs/predictor.md).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use actix_web::{HttpResponse, web};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Adds `GET /`, `GET /assets/app.js` and `GET /assets/style.css` to the app.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/").route(web::get().to(index)))
        .service(web::resource("/assets/app.js").route(web::get().to(app_js)))
        .service(web::resource("/assets/style.css").route(web::get().to(style_css)));
}

/// An embedded asset, revalidated on every load so a new binary's page is seen at once.
fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

#[cfg(test)]
mod tests {
    use actix_web::test as actix_test;
    use actix_web::{App, body::to_bytes, http::StatusCode};

    use super::*;

    #[actix_web::test]
    async fn serves_the_page_and_its_assets_with_their_types_uncached() {
        let app = actix_test::init_service(App::new().configure(configure)).await;
        for (path, content_type, needle) in [
            ("/", "text/html; charset=utf-8", "<!doctype html>"),
            (
                "/assets/app.js",
                "text/javascript; charset=utf-8",
                "/api/summary",
            ),
            ("/assets/style.css", "text/css; charset=utf-8", ".kpi"),
        ] {
            let response = actix_test::call_service(
                &app,
                actix_test::TestRequest::get().uri(path).to_request(),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            assert_eq!(
                header(CONTENT_TYPE).as_deref(),
                Some(content_type),
                "{path}"
            );
            assert_eq!(header(CACHE_CONTROL).as_deref(), Some("no-cache"), "{path}");
            let body = to_bytes(response.into_body())
                .await
                .ok()
                .unwrap_or_default();
            assert!(
                String::from_utf8_lossy(&body).contains(needle),
                "{path} lacks {needle}"
            );
        }
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for (name, text) in [
            ("index.html", INDEX_HTML),
            ("app.js", APP_JS),
            ("style.css", STYLE_CSS),
        ] {
            // The inline icon's SVG namespace is a name, not a request.
            let text = text.replace("http://www.w3.org/2000/svg", "");
            for needle in ["http://", "https://", "@import", "url("] {
                assert!(!text.contains(needle), "{name} contains {needle}");
            }
        }
    }
}
