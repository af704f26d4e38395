#![allow(missing_docs, unreachable_pub)]
use std::str::FromStr;
use std::time::Duration;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, Url, WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

#[workflow]
#[derive(Default)]
pub struct Hello;

#[workflow_methods]
impl Hello {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(Acts::greet, name, ActivityOptions::start_to_close_timeout(Duration::from_secs(10)))
            .await?)
    }
}

pub struct Acts;
#[activities]
impl Acts {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or("http://127.0.0.1:7233".into());
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let connection = Connection::connect(ConnectionOptions::new(Url::from_str(&addr)?).build()).await?;
    let client = Client::new(connection, ClientOptions::new("default").build())?;
    let opts = WorkerOptions::new("smoke").register_workflow::<Hello>()?.register_activities(Acts).build();
    let mut worker = Worker::new(&runtime, client.clone(), opts)?;
    let stop = worker.shutdown_handle();
    let t = std::time::Instant::now();
    let starter = async {
        let h = client
            .start_workflow(
                Hello::run,
                "T".to_string(),
                WorkflowStartOptions::new("smoke", format!("w-{}", std::process::id())).build(),
            )
            .await
            .unwrap();
        let r = h.get_result(WorkflowGetResultOptions::default()).await.unwrap();
        println!("{r} in {:?}", t.elapsed());
        stop();
    };
    let (a, ()) = tokio::join!(worker.run(), starter);
    a?;
    Ok(())
}
