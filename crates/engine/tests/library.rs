//! The example application runs: a workflow with no helpline type on the same store,
//! runner and projection runtime.

#[path = "../examples/library.rs"]
mod library;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lending_library_runs_on_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let held = library::run(dir.path()).await.unwrap();
    assert_eq!(held, vec![("alice".to_string(), 1), ("bob".to_string(), 1)]);
}
