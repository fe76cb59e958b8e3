//! robots.txt (RFC 9309) through `texting_robots`: what a fetched robots.txt means for us.

use texting_robots::Robot;

/// The rules of one origin for our user agent.
pub struct Robots {
    robot: Option<Robot>,
}

/// The product token robots.txt groups are matched against: `kb-crawler/0.1 (+https://...)`
/// gives `kb-crawler`.
#[must_use]
pub fn agent_token(user_agent: &str) -> &str {
    user_agent.split(['/', ' ']).next().filter(|t| !t.is_empty()).unwrap_or("*")
}

impl Robots {
    /// Everything allowed (no robots.txt, or one that cannot be read).
    #[must_use]
    pub fn allow_all() -> Self {
        Self { robot: None }
    }

    /// The rules of a robots.txt answered with `status` (RFC 9309: 4xx means no rules; the
    /// caller treats 5xx and network errors as "try again later").
    #[must_use]
    pub fn from_response(user_agent: &str, status: u16, body: &[u8]) -> Self {
        if !(200..300).contains(&status) {
            return Self::allow_all();
        }
        Self { robot: Robot::new(agent_token(user_agent), body).ok() }
    }

    #[must_use]
    pub fn allowed(&self, url: &str) -> bool {
        self.robot.as_ref().is_none_or(|r| r.allowed(url))
    }

    /// `Crawl-delay`, seconds.
    #[must_use]
    pub fn crawl_delay(&self) -> Option<f32> {
        self.robot.as_ref().and_then(|r| r.delay)
    }

    /// `Sitemap:` lines.
    #[must_use]
    pub fn sitemaps(&self) -> Vec<String> {
        self.robot.as_ref().map(|r| r.sitemaps.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &[u8] = b"User-agent: *\nDisallow: /private/\n\nUser-agent: kb-crawler\nDisallow: /drafts/\nAllow: /drafts/public\nCrawl-delay: 2\n\nSitemap: https://e.com/sitemap_index.xml\n";

    #[test]
    fn our_group_applies_with_its_delay_and_the_sitemaps() {
        let r = Robots::from_response("kb-crawler/0.1 (+https://example.com)", 200, TXT);
        assert!(!r.allowed("https://e.com/drafts/x"));
        assert!(r.allowed("https://e.com/drafts/public"));
        assert!(r.allowed("https://e.com/private/x"), "only the most specific group applies");
        assert_eq!(r.crawl_delay(), Some(2.0));
        assert_eq!(r.sitemaps(), vec!["https://e.com/sitemap_index.xml"]);
        let other = Robots::from_response("OtherBot/1.0", 200, TXT);
        assert!(!other.allowed("https://e.com/private/x"));
        assert!(other.allowed("https://e.com/drafts/x"));
    }

    #[test]
    fn missing_robots_allows_everything() {
        let r = Robots::from_response("kb-crawler/0.1", 404, b"Disallow: /");
        assert!(r.allowed("https://e.com/anything"));
        assert_eq!(agent_token("kb-crawler/0.1 (+x)"), "kb-crawler");
        assert_eq!(agent_token(""), "*");
    }
}
