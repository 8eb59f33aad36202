using System.Text.Json;

namespace MsSwift.Contracts;

/// <summary>Where a local cluster's front door is: what <c>./build.sh run</c> writes and the <c>msswift</c> CLI reads.</summary>
public sealed record LocalClusterConnection(string Http, string Grpc, string ApiKey);

/// <summary>
/// The file that hands a local run's gateway addresses and development key to the CLI, so a user
/// types no address or key. It holds an all-scopes key: it is written readable by its owner only.
/// </summary>
public static class LocalClusterFile
{
    /// <summary>Overrides <see cref="DefaultPath"/> for the CLI (the AppHost's setting is <c>Cli:ConnectionFile</c>).</summary>
    public const string EnvironmentVariable = "MSSWIFT_CLUSTER_FILE";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary><c>$XDG_CONFIG_HOME/msswift/local-cluster.json</c>, or under <c>~/.config</c>.</summary>
    public static string DefaultPath
    {
        get
        {
            var config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            return Path.Combine(config, "msswift", "local-cluster.json");
        }
    }

    public static void Write(string path, LocalClusterConnection connection)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        // A fresh file of our own (CreateNew): a leftover or planted file cannot lend it wider permissions.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, connection, Json);
        }

        if (!OperatingSystem.IsWindows())
        {
            // The process umask can only narrow the create mode; say it outright anyway.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        // Readers never see half a file.
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The connection in <paramref name="path"/>, or null when there is no such file.</summary>
    /// <exception cref="JsonException">The file is not a connection file.</exception>
    public static LocalClusterConnection? Read(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<LocalClusterConnection>(File.ReadAllText(path), Json) : null;
}
