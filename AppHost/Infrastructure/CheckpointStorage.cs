namespace MsSwift.AppHost.Infrastructure;

/// <summary>
/// Where training, the registry, inference and the data service keep checkpoints and token
/// files. A local run shares one directory (<c>Checkpoints:Directory</c>, default
/// <c>.data/checkpoints</c> at the repository root). Published, the replicas of a service run on
/// different machines and no directory is shared, so the manifest describes S3-compatible object
/// storage: a MinIO container with a volume (in Kubernetes, a StatefulSet; or any S3 endpoint by
/// setting), reached with its own access key.
/// </summary>
internal static class CheckpointStorage
{
    public const string ResourceName = "checkpoints";
    public const string AccessKeyName = "checkpoints-access-key";
    public const string SecretKeyName = "checkpoints-secret-key";
    public const string Bucket = "msswift-checkpoints";
    public const string EndpointName = "http";

    // The last MinIO release published as an image (MinIO stopped publishing images in October 2025).
    private const string MinioImage = "docker.io/minio/minio";
    private const string MinioTag = "RELEASE.2025-09-07T16-13-09Z";
    private const int MinioPort = 9000;

    /// <summary>The MinIO container the published services store checkpoints in; null when running locally.</summary>
    public static PublishedCheckpointStorage? AddCheckpointStorage(this IDistributedApplicationBuilder builder)
    {
        if (!builder.ExecutionContext.IsPublishMode)
        {
            return null;
        }

        var accessKey = builder.AddParameter(AccessKeyName, new GenerateParameterDefault { MinLength = 16, Special = false }, secret: true);
        var secretKey = builder.AddParameter(SecretKeyName, new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true);
        var container = builder.AddContainer(ResourceName, MinioImage, MinioTag)
            .WithArgs("server", "/data")
            .WithEnvironment("MINIO_ROOT_USER", accessKey)
            .WithEnvironment("MINIO_ROOT_PASSWORD", secretKey)
            .WithHttpEndpoint(targetPort: MinioPort, name: EndpointName)
            .WithVolume("msswift-checkpoints-data", "/data");
        return new PublishedCheckpointStorage(container, accessKey, secretKey);
    }

    /// <summary>
    /// Points a service at the checkpoint store: the directory in a local run, else the S3 bucket.
    /// Each service names its own keys under <paramref name="section"/> (e.g. <c>Inference</c>,
    /// <c>CheckpointDirectory</c>, <c>CheckpointS3</c>).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithCheckpointStore(
        this IResourceBuilder<ProjectResource> service, PublishedCheckpointStorage? storage, string section,
        string directoryKey = "CheckpointDirectory", string s3Key = "CheckpointS3")
    {
        var builder = service.ApplicationBuilder;
        if (storage is null)
        {
            var directory = Path.GetFullPath(builder.Configuration["Checkpoints:Directory"] ?? Path.Combine(builder.AppHostDirectory, "..", ".data", "checkpoints"));
            return service.WithEnvironment($"{section}__{directoryKey}", directory);
        }

        var s3 = $"{section}__{s3Key}";
        return service
            .WithEnvironment($"{s3}__ServiceUrl", storage.Container.GetEndpoint(EndpointName))
            .WithEnvironment($"{s3}__Bucket", Bucket)
            .WithEnvironment($"{s3}__AccessKey", storage.AccessKey)
            .WithEnvironment($"{s3}__SecretKey", storage.SecretKey)
            .WaitFor(storage.Container);
    }
}

/// <summary>The published checkpoint store: its container and the credentials services reach it with.</summary>
internal sealed record PublishedCheckpointStorage(
    IResourceBuilder<ContainerResource> Container, IResourceBuilder<ParameterResource> AccessKey, IResourceBuilder<ParameterResource> SecretKey);
