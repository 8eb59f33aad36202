using MsSwift.Cli.Infrastructure;
using MsSwift.Contracts;
using Spectre.Console;

namespace MsSwift.Cli.Tests;

/// <summary>Where the CLI sends requests and which key it sends: flags, then environment, then the local run's file.</summary>
public sealed class GatewayConnectionTests : IDisposable
{
    private const string FileKey = "local-development-key-0123456789";
    private readonly string folder = Directory.CreateTempSubdirectory("msswift-connection-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string ClusterFile => Path.Combine(folder, "local-cluster.json");

    [Fact]
    public void The_local_run_file_gives_both_addresses_and_its_key()
    {
        LocalClusterFile.Write(ClusterFile, new("http://localhost:18080", "http://localhost:18081", FileKey));

        var connection = Resolve(new GatewaySettings());

        Assert.Equal(new Uri("http://localhost:18080"), connection.Http);
        Assert.Equal(new Uri("http://localhost:18081"), connection.Grpc);
        Assert.Equal(FileKey, connection.ApiKey);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ClusterFile));
        }
    }

    [Fact]
    public void The_development_key_never_goes_to_another_gateway()
    {
        LocalClusterFile.Write(ClusterFile, new("http://localhost:18080", "http://localhost:18081", FileKey));

        var otherHttp = Resolve(new GatewaySettings { Gateway = "https://gateway.example.com" });
        var otherGrpc = Resolve(new GatewaySettings { Grpc = "http://evil.example.com:8081" });
        var otherHttpFromEnvironment = Resolve(new GatewaySettings(), ("MSSWIFT_GATEWAY", "http://10.0.0.5:8080"));

        Assert.Null(otherHttp.ApiKey);
        // Without its own gRPC address, a remote gateway's is its host on 8081.
        Assert.Equal(new Uri("https://gateway.example.com:8081"), otherHttp.Grpc);
        Assert.Null(otherGrpc.ApiKey);
        Assert.Null(otherHttpFromEnvironment.ApiKey);
    }

    [Fact]
    public void Flags_win_over_the_environment_which_wins_over_the_file()
    {
        LocalClusterFile.Write(ClusterFile, new("http://localhost:18080", "http://localhost:18081", FileKey));
        (string, string)[] environment = [("MSSWIFT_GATEWAY", "http://env-host:8080"), ("MSSWIFT_GATEWAY_GRPC", "http://env-host:9091"), ("MSSWIFT_API_KEY", "environment-key-0123456789")];

        var fromEnvironment = Resolve(new GatewaySettings(), environment);
        var fromFlags = Resolve(new GatewaySettings { Gateway = "http://flag-host:1", Grpc = "http://flag-host:2", ApiKey = "flag-key-0123456789abcd" }, environment);

        Assert.Equal(("http://env-host:8080/", "http://env-host:9091/", "environment-key-0123456789"), (fromEnvironment.Http.ToString(), fromEnvironment.Grpc.ToString(), fromEnvironment.ApiKey));
        Assert.Equal(("http://flag-host:1/", "http://flag-host:2/", "flag-key-0123456789abcd"), (fromFlags.Http.ToString(), fromFlags.Grpc.ToString(), fromFlags.ApiKey));
    }

    [Fact]
    public void A_broken_file_stops_only_commands_that_need_it()
    {
        File.WriteAllText(ClusterFile, "{ not json");

        var complete = Resolve(new GatewaySettings { Gateway = "http://h:1", Grpc = "http://h:2", ApiKey = "key-0123456789abcdef" });
        var needsFile = Assert.Throws<CliException>(() => Resolve(new GatewaySettings()));

        Assert.Equal(new Uri("http://h:1"), complete.Http);
        Assert.Equal(ExitCodes.Usage, needsFile.ExitCode);
        Assert.Contains(ClusterFile, needsFile.Message);
    }

    [Theory]
    [InlineData("localhost:8080")]
    [InlineData("ftp://host/")]
    [InlineData("not a url")]
    public void An_address_that_is_not_http_is_a_usage_error(string address)
    {
        var error = Assert.Throws<CliException>(() => Resolve(new GatewaySettings { Gateway = address, Grpc = "http://h:2", ApiKey = "k" }));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("http://", error.Message);
    }

    private GatewayConnection Resolve(GatewaySettings settings, params (string Name, string Value)[] variables)
    {
        var environment = variables.ToDictionary(variable => variable.Name, variable => variable.Value);
        environment[LocalClusterFile.EnvironmentVariable] = ClusterFile;
        var cli = new CliEnvironment(AnsiConsole.Console, TextWriter.Null, TextReader.Null, name => environment.GetValueOrDefault(name));
        return GatewayConnection.Resolve(settings, cli);
    }
}
