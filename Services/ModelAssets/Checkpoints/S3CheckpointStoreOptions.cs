using Amazon.Runtime;
using Amazon.S3;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>Where an <see cref="S3CheckpointStore"/> keeps checkpoints, and how to reach it.</summary>
public sealed class S3CheckpointStoreOptions
{
    /// <summary>Endpoint of an S3-compatible service (MinIO, Ceph, s3rver); empty means AWS S3 in <see cref="Region"/>.</summary>
    public string ServiceUrl { get; set; } = "";

    public string Bucket { get; set; } = "";

    /// <summary>Key prefix for every checkpoint, e.g. <c>msswift/checkpoints</c>.</summary>
    public string Prefix { get; set; } = "";

    public string Region { get; set; } = "us-east-1";

    /// <summary>Empty: the SDK's default credential chain (environment, instance role, ...).</summary>
    public string AccessKey { get; set; } = "";

    public string SecretKey { get; set; } = "";

    /// <summary>Path-style URLs (<c>host/bucket/key</c>), which most S3-compatible servers need.</summary>
    public bool ForcePathStyle { get; set; } = true;

    public S3CheckpointStore CreateStore()
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = ForcePathStyle,
            AuthenticationRegion = Region,
            // Checksums only where S3 requires them: S3-compatible servers do not all accept
            // the SDK's default trailing checksums on chunked uploads.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (ServiceUrl.Length > 0)
        {
            config.ServiceURL = ServiceUrl;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(Region);
        }

        var client = AccessKey.Length > 0
            ? new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), config)
            : new AmazonS3Client(config);
        return new S3CheckpointStore(client, Bucket, Prefix);
    }
}
