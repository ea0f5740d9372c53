//! The answer generator (§5.2): asks the LLM for a `CodeAnswer` and merges it into one `index.html`.

use serde::{Deserialize, Serialize};

use crate::augment::insert_head;
use crate::llm::{ChatMessage, LlmClient, LlmError, Sampling};
use crate::task::CodeFile;

/// Largest page accepted from a model.
pub const MAX_ANSWER_BYTES: usize = 512 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeAnswer {
    pub files: Vec<CodeFile>,
}

impl CodeAnswer {
    pub fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("answer has no files".to_owned());
        }
        let total: usize = self.files.iter().map(|f| f.content.len()).sum();
        if total > MAX_ANSWER_BYTES {
            return Err(format!(
                "answer is {total} bytes, the limit is {MAX_ANSWER_BYTES}"
            ));
        }
        if self.files.iter().any(|f| f.filename.trim().is_empty()) {
            return Err("a file has no name".to_owned());
        }
        if self.files.iter().all(|f| f.content.trim().is_empty()) {
            return Err("every file is empty".to_owned());
        }
        if !self.files.iter().any(|f| is_html(f) || is_js(f)) {
            return Err("answer has neither an HTML nor a JavaScript file".to_owned());
        }
        Ok(())
    }

    /// One self-contained `index.html`: CSS files go into `<head>`, JS files at the end of `<body>`
    /// (the reference service does the same with BeautifulSoup).
    pub fn merge(&self) -> CodeFile {
        let html = self
            .files
            .iter()
            .find(|f| f.filename == "index.html")
            .or_else(|| self.files.iter().find(|f| is_html(f)));
        let mut page = match html {
            Some(f) => f.content.clone(),
            None => "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n<body>\n</body>\n</html>\n".to_owned(),
        };
        for f in self
            .files
            .iter()
            .filter(|f| f.filename.ends_with(".css") && !f.content.trim().is_empty())
        {
            page = insert_head(&page, &format!("<style>\n{}\n</style>", f.content));
        }
        for f in self.files.iter().filter(|f| is_js(f)) {
            let script = format!(
                "<script>\n{}\n</script>\n",
                f.content.replace("</script", "<\\/script")
            );
            page = match page.to_ascii_lowercase().rfind("</body>") {
                Some(i) => format!("{}{}{}", &page[..i], script, &page[i..]),
                None => format!("{page}{script}"),
            };
        }
        CodeFile::html(page)
    }
}

fn is_html(f: &CodeFile) -> bool {
    f.filename.ends_with(".html")
        || f.filename.ends_with(".htm")
        || f.language.eq_ignore_ascii_case("html")
}

fn is_js(f: &CodeFile) -> bool {
    f.filename.ends_with(".js") || f.language.eq_ignore_ascii_case("javascript")
}

pub fn answer_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "filename": {"type": "string"},
                        "content": {"type": "string"},
                        "language": {"type": "string"}
                    },
                    "required": ["filename", "content", "language"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["files"],
        "additionalProperties": false
    })
}

const SYSTEM: &str = "You are an expert front-end developer. Implement the question as a web page made of index.html and \
index.js (CSS inline in index.html). The page runs inside a sandboxed iframe: no external resources, no network, no \
storage, no alert/confirm/prompt, no eval; it fits a square viewport. Answer with one JSON object \
{\"files\": [{\"filename\": string, \"content\": string, \"language\": string}]} and nothing else.";

pub fn answer_messages(question: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(question.to_owned()),
    ]
}

/// Generates answers with an LLM.
#[derive(Clone, Debug)]
pub struct AnswerGenerator {
    client: LlmClient,
    max_tokens: u32,
}

impl AnswerGenerator {
    pub fn new(client: LlmClient, max_tokens: u32) -> Self {
        Self { client, max_tokens }
    }

    pub async fn answer(&self, question: &str, seed: u64) -> Result<CodeAnswer, LlmError> {
        let sampling = Sampling {
            temperature: 0.0,
            top_p: 0.95,
            max_tokens: self.max_tokens,
            seed: Some(seed),
        };
        self.client
            .chat_json(
                &answer_messages(question),
                "code_answer",
                &answer_schema(),
                sampling,
                CodeAnswer::validate,
            )
            .await
    }
}
