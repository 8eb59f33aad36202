namespace MsSwift.Modeling.Checkpoints;

/// <summary>Picks a service's checkpoint backend from its settings: S3 when a bucket is configured, else the local directory.</summary>
public static class CheckpointStores
{
    public static ICheckpointStore Create(string directory, S3CheckpointStoreOptions s3) =>
        s3.Bucket.Length > 0 ? s3.CreateStore() : new LocalDirectoryCheckpointStore(directory);

    /// <summary>What is missing for <see cref="Create"/> to work, naming the keys under <paramref name="section"/>; null when nothing.</summary>
    public static string? Problem(string section, string directory, S3CheckpointStoreOptions s3, string directoryKey = "CheckpointDirectory", string s3Key = "CheckpointS3") =>
        s3.Bucket.Length == 0 && string.IsNullOrWhiteSpace(directory)
            ? $"{section}:{directoryKey} is missing: set it to the store's directory (or {section}:{s3Key}:Bucket to use S3)"
            : null;
}
