using Microsoft.Extensions.Configuration;
using MsSwift.AppHost;
using MsSwift.AppHost.Infrastructure;

var builder = DistributedApplication.CreateBuilder(args);

// Infrastructure: processes (local), containers, or existing servers (external).
var mode = builder.GetInfrastructureMode();
var redis = builder.AddMsSwiftRedis(mode).AnnounceWhenReady("redis-cli -u redis://{0}");
var kafka = builder.AddMsSwiftKafka(mode).AnnounceWhenReady("kcat -b {0} -L");
var checkpoints = builder.AddCheckpointStorage();

// Model registry: versions, stages, canary; publishes model events. A local run seeds the
// bundled Shakespeare model as demo v1, so the first answer is text (DefaultModel:*).
var registry = builder.AddService<Projects.MsSwift_Registry>("registry")
    .WithCheckpointStore(checkpoints, "Registry")
    .WithDefaultModel()
    .WithDependency(redis)
    .WithDependency(kafka);

// Datasets: ingest, tokenize, shard.
var data = builder.AddService<Projects.MsSwift_Data>("data")
    .WithCheckpointStore(checkpoints, "Data", "StorageDirectory", "StorageS3")
    .WithDependency(redis);

// Training: the coordinator and parameter server, and the data-parallel workers.
var training = builder.AddService<Projects.MsSwift_Training>("training")
    .WithCheckpointStore(checkpoints, "Training")
    .WithEnvironment("Training__Role", "Coordinator")
    .WithDependency(redis)
    .WithDependency(kafka)
    .WithDependency(data)
    .WithDependency(registry);

builder.AddService<Projects.MsSwift_Training>("worker")
    .WithReplicas(builder.GetTrainingWorkerCount())
    .WithEnvironment("Training__Role", "Worker")
    .WithDependency(redis)
    .WithDependency(data)
    .WithDependency(training);

// Inference: Predict, OpenAI-compatible API, Kafka async path; Inference:Replicas processes.
var inference = builder.AddInferenceReplicas(builder.GetInferenceReplicaCount(), replica => replica
    .WithCheckpointStore(checkpoints, "Inference")
    .WithDependency(redis)
    .WithDependency(kafka)
    .WithDependency(registry));

// The front door, on fixed ports so clients and docs can rely on them.
builder.AddGateway(
        httpPort: builder.Configuration.GetValue("Gateway:HttpPort", 8080),
        grpcPort: builder.Configuration.GetValue("Gateway:GrpcPort", 8081))
    .WithDependency(kafka)
    // Referenced, not waited for: inference is ready only once it serves a production version,
    // and a cluster with no model yet must still take uploads and training through the gateway
    // (whose health checks keep requests off an unready inference).
    .WithInferenceReplicas(inference)
    .WithDependency(training)
    .WithDependency(data)
    .WithDependency(registry);

builder.Build().Run();
