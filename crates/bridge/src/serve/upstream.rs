//! The upstream servers behind the gateway and how their resources, prompts and completions
//! are re-exported: lists merged, prompt names prefixed like tools (when prefixing), each
//! request routed to the server that owns what it names.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, GetPromptRequest, GetPromptRequestParams,
    GetPromptResult, ListPromptsRequest, ListResourceTemplatesRequest, ListResourcesRequest, Prompt,
    ReadResourceRequest, ReadResourceRequestParams, ReadResourceResult, Reference, Resource, ResourceTemplate,
    ServerCapabilities, ServerResult,
};
use tracing::warn;

use crate::catalogue::naming::NameMap;
use crate::error::ToolError;
use crate::pool::ServerHandle;

/// One upstream MCP server.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) handle: ServerHandle,
    pub(crate) capabilities: ServerCapabilities,
}

/// The upstream servers and what the gateway learned of their names.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) servers: Vec<Upstream>,
    prefixed: bool,
    /// Which server listed a resource URI or a template.
    owners: Mutex<HashMap<String, usize>>,
    /// Prompt names as exposed → (server index, original name).
    prompts: Mutex<HashMap<String, (usize, String)>>,
}

fn upstream_error(error: &ToolError) -> McpError {
    match error {
        ToolError::Protocol { message, .. } => McpError::invalid_params(message.clone(), None),
        other => McpError::internal_error(other.to_string(), None),
    }
}

fn unexpected() -> McpError {
    McpError::internal_error("the upstream server answered with an unexpected result", None)
}

impl Upstreams {
    pub(crate) fn new(servers: Vec<Upstream>, prefixed: bool) -> Self {
        Self { servers, prefixed, owners: Mutex::default(), prompts: Mutex::default() }
    }

    pub(crate) fn any(&self, has: impl Fn(&ServerCapabilities) -> bool) -> bool {
        self.servers.iter().any(|s| has(&s.capabilities))
    }

    fn with(&self, has: impl Fn(&ServerCapabilities) -> bool) -> impl Iterator<Item = (usize, &Upstream)> {
        self.servers.iter().enumerate().filter(move |(_, s)| has(&s.capabilities))
    }

    async fn send(&self, index: usize, request: ClientRequest) -> Result<ServerResult, McpError> {
        self.servers[index].handle.request(request).await.map_err(|e| upstream_error(&e))
    }

    /// Every server's resources.
    pub(crate) async fn list_resources(&self) -> Result<Vec<Resource>, McpError> {
        let mut all = Vec::new();
        for (index, _) in self.with(|c| c.resources.is_some()) {
            let mut cursor = None;
            loop {
                let request = ClientRequest::ListResourcesRequest(ListResourcesRequest::with_param(
                    rmcp::model::PaginatedRequestParams::default().with_cursor(cursor.take()),
                ));
                let ServerResult::ListResourcesResult(page) = self.send(index, request).await? else {
                    return Err(unexpected());
                };
                let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
                for resource in &page.resources {
                    owners.insert(resource.uri.clone(), index);
                }
                drop(owners);
                all.extend(page.resources);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(all)
    }

    /// Every server's resource templates.
    pub(crate) async fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>, McpError> {
        let mut all = Vec::new();
        for (index, _) in self.with(|c| c.resources.is_some()) {
            let request = ClientRequest::ListResourceTemplatesRequest(ListResourceTemplatesRequest::default());
            let ServerResult::ListResourceTemplatesResult(page) = self.send(index, request).await? else {
                return Err(unexpected());
            };
            let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
            for template in &page.resource_templates {
                owners.insert(template.uri_template.clone(), index);
            }
            drop(owners);
            all.extend(page.resource_templates);
        }
        Ok(all)
    }

    /// The server that owns `uri`: the one that listed it, else the one with a template whose
    /// fixed beginning it starts with.
    fn owner_of(&self, uri: &str) -> Option<usize> {
        let owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        owners.get(uri).copied().or_else(|| {
            owners
                .iter()
                .filter(|(template, _)| template.contains('{'))
                .filter(|(template, _)| uri.starts_with(template.split('{').next().unwrap_or_default()))
                .max_by_key(|(template, _)| template.len())
                .map(|(_, index)| *index)
        })
    }

    /// The servers to try for `uri`: its owner, else every server with resources.
    async fn candidates(&self, uri: &str) -> Vec<usize> {
        if self.owner_of(uri).is_none() {
            // Learn the owners (a client may read a URI it got elsewhere, without listing).
            let _ = self.list_resources().await;
            let _ = self.list_resource_templates().await;
        }
        match self.owner_of(uri) {
            Some(index) => vec![index],
            None => self.with(|c| c.resources.is_some()).map(|(i, _)| i).collect(),
        }
    }

    /// Reads a resource from the server that owns it.
    pub(crate) async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
    ) -> Result<ReadResourceResult, McpError> {
        let mut last = McpError::resource_not_found(format!("no upstream server has resource {}", params.uri), None);
        for index in self.candidates(&params.uri).await {
            let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params.clone()));
            match self.send(index, request).await {
                Ok(ServerResult::ReadResourceResult(result)) => return Ok(result),
                Ok(_) => return Err(unexpected()),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Forwards a subscription request (subscribe or unsubscribe) for `uri` to its owner.
    pub(crate) async fn subscription(&self, uri: &str, request: ClientRequest) -> Result<(), McpError> {
        let candidates: Vec<usize> = self
            .candidates(uri)
            .await
            .into_iter()
            .filter(|i| self.servers[*i].capabilities.resources.as_ref().is_some_and(|r| r.subscribe == Some(true)))
            .collect();
        let Some(index) = candidates.first() else {
            return Err(McpError::invalid_params(format!("no upstream server can subscribe to {uri}"), None));
        };
        self.send(*index, request).await.map(|_| ())
    }

    /// Every server's prompts, named as exposed.
    pub(crate) async fn list_prompts(&self) -> Result<Vec<Prompt>, McpError> {
        let mut listed = Vec::new();
        for (index, upstream) in self.with(|c| c.prompts.is_some()) {
            let request = ClientRequest::ListPromptsRequest(ListPromptsRequest::default());
            let ServerResult::ListPromptsResult(page) = self.send(index, request).await? else {
                return Err(unexpected());
            };
            listed.extend(page.prompts.into_iter().map(|prompt| (index, upstream.handle.name().to_owned(), prompt)));
        }
        let names = NameMap::build(listed.iter().map(|(_, server, prompt)| (server.as_str(), prompt.name.as_str())));
        let mut exposed = HashMap::new();
        let mut prompts = Vec::with_capacity(listed.len());
        for (index, server, mut prompt) in listed {
            let name = if self.prefixed {
                names.name_of(&server, &prompt.name).unwrap_or(&prompt.name).to_owned()
            } else {
                prompt.name.clone()
            };
            if exposed.contains_key(&name) {
                warn!(prompt = %name, server = %server, "two upstream servers have this prompt; the first is served");
                continue;
            }
            exposed.insert(name.clone(), (index, prompt.name.clone()));
            prompt.name = name;
            prompts.push(prompt);
        }
        *self.prompts.lock().unwrap_or_else(PoisonError::into_inner) = exposed;
        Ok(prompts)
    }

    /// The server and original name of an exposed prompt name.
    async fn prompt(&self, name: &str) -> Result<(usize, String), McpError> {
        let found = self.prompts.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned();
        if let Some(found) = found {
            return Ok(found);
        }
        self.list_prompts().await?;
        self.prompts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| McpError::invalid_params(format!("unknown prompt {name:?}"), None))
    }

    /// Renders a prompt on the server that has it.
    pub(crate) async fn get_prompt(&self, mut params: GetPromptRequestParams) -> Result<GetPromptResult, McpError> {
        let (index, original) = self.prompt(&params.name).await?;
        params.name = original;
        match self.send(index, ClientRequest::GetPromptRequest(GetPromptRequest::new(params))).await? {
            ServerResult::GetPromptResult(result) => Ok(result),
            _ => Err(unexpected()),
        }
    }

    /// Completes a prompt's or a template's argument on the server that has it.
    pub(crate) async fn complete(&self, mut params: CompleteRequestParams) -> Result<CompleteResult, McpError> {
        let index = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let (index, original) = self.prompt(&prompt.name).await?;
                prompt.name = original;
                Some(index)
            }
            Reference::Resource(template) => self.candidates(&template.uri).await.first().copied(),
            _ => None,
        };
        let Some(index) = index.filter(|i| self.servers[*i].capabilities.completions.is_some()) else {
            return Ok(CompleteResult::new(rmcp::model::CompletionInfo::default()));
        };
        match self.send(index, ClientRequest::CompleteRequest(CompleteRequest::new(params))).await? {
            ServerResult::CompleteResult(result) => Ok(result),
            _ => Err(unexpected()),
        }
    }

    /// Sets the log level of every server that logs.
    #[allow(deprecated)] // logging: deprecated by SEP-2577 in rmcp, in the 2025-11-25 protocol
    pub(crate) async fn set_level(&self, params: rmcp::model::SetLevelRequestParams) -> Result<(), McpError> {
        for (index, _) in self.with(|c| c.logging.is_some()) {
            let request = ClientRequest::SetLevelRequest(rmcp::model::SetLevelRequest::new(params.clone()));
            self.send(index, request).await?;
        }
        Ok(())
    }
}
