using System.Globalization;

namespace MsSwift.Testing;

/// <summary>
/// A real S3-compatible server (npm's s3rver, installed into <c>.tools/</c> by eng/setup.sh) with
/// one bucket, storing into a temporary directory that is deleted with it.
/// </summary>
public sealed class S3Server : ChildProcess
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private static readonly string RepositoryRoot = BuildMetadata.Get(typeof(S3Server).Assembly, "RepositoryRoot");

    private readonly string _directory;

    private S3Server(string directory, int port, string bucket)
        : base("node", [Script, "-d", directory, "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "--configure-bucket", bucket, "-s"])
    {
        _directory = directory;
        ServiceUrl = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        Bucket = bucket;
    }

    public string ServiceUrl { get; }

    public string Bucket { get; }

    private static string Script => Path.Combine(RepositoryRoot, ".tools", "node_modules", "s3rver", "bin", "s3rver.js");

    public static Task<S3Server> StartAsync(string bucket = "checkpoints")
    {
        if (!File.Exists(Script))
        {
            throw new InvalidOperationException($"s3rver is not installed at {Script}: run eng/setup.sh");
        }

        var port = FreeTcpPort.Next();
        return ListeningAsync(new S3Server(Directory.CreateTempSubdirectory("msswift-s3-").FullName, port, bucket), port, TimeSpan.FromSeconds(30));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
