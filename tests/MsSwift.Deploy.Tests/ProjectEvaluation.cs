using System.Text.Json;
using MsSwift.Testing;

namespace MsSwift.Deploy.Tests;

/// <summary>
/// What MSBuild itself says about a project: <c>dotnet msbuild -getProperty -getItem</c>, after
/// evaluation or after running targets, with global properties as a user would pass them
/// (<c>-p:TorchBackend=cuda</c>). Tests assert on this rather than re-reading project files, so
/// imports, conditions and the SDK's own defaults all count.
/// </summary>
public sealed class ProjectEvaluation
{
    public static readonly string RepositoryRoot = ProcessRunner.RepositoryRoot;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private readonly Dictionary<string, string> _properties;
    private readonly Dictionary<string, IReadOnlyList<EvaluatedItem>> _items;

    private ProjectEvaluation(string project, Dictionary<string, string> properties, Dictionary<string, IReadOnlyList<EvaluatedItem>> items)
    {
        Project = project;
        _properties = properties;
        _items = items;
    }

    /// <summary>The project, relative to the repository root.</summary>
    public string Project { get; }

    /// <summary>An item with its custom metadata (MSBuild's well-known metadata such as FullPath left out).</summary>
    public sealed record EvaluatedItem(string Identity, IReadOnlyDictionary<string, string> Metadata)
    {
        public string? this[string metadata] => Metadata.GetValueOrDefault(metadata);
    }

    /// <summary>
    /// Evaluates <paramref name="project"/> (relative to the repository root) and reads the named
    /// properties and items; with <paramref name="targets"/>, their values after those targets ran.
    /// </summary>
    public static async Task<ProjectEvaluation> EvaluateAsync(
        string project,
        IEnumerable<string> properties,
        IEnumerable<string>? items = null,
        IReadOnlyDictionary<string, string>? globalProperties = null,
        string? targets = null)
    {
        var resultFile = Path.Combine(Path.GetTempPath(), $"msswift-evaluation-{Guid.NewGuid():N}.json");
        // A second property makes MSBuild answer in JSON even when only one is asked for.
        var arguments = Arguments(project, globalProperties, targets);
        arguments.AddRange(properties.Append("MSBuildProjectName").Distinct().Select(name => $"-getProperty:{name}"));
        arguments.AddRange((items ?? []).Select(name => $"-getItem:{name}"));
        arguments.Add($"-getResultOutputFile:{resultFile}");
        try
        {
            var (exitCode, output) = await DotNetProcess.RunAsync(RepositoryRoot, arguments, Timeout);
            if (exitCode != 0 || !File.Exists(resultFile))
            {
                throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} failed ({exitCode}):{Environment.NewLine}{output}");
            }

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(resultFile));
            return new ProjectEvaluation(project, ReadProperties(json.RootElement), ReadItems(json.RootElement));
        }
        finally
        {
            File.Delete(resultFile);
        }
    }

    /// <summary>Runs <paramref name="targets"/> on <paramref name="project"/>; for checks that only a build, not evaluation, makes (an &lt;Error&gt;).</summary>
    public static Task<(int ExitCode, string Output)> RunTargetsAsync(string project, string targets, IReadOnlyDictionary<string, string>? globalProperties = null) =>
        DotNetProcess.RunAsync(RepositoryRoot, Arguments(project, globalProperties, targets), Timeout);

    /// <summary>The property's value; empty when it is not set, as in MSBuild.</summary>
    public string Property(string name) =>
        _properties.TryGetValue(name, out var value) ? value : throw new ArgumentException($"{name} was not asked for when {Project} was evaluated", nameof(name));

    public IReadOnlyList<EvaluatedItem> Items(string type) =>
        _items.TryGetValue(type, out var items) ? items : throw new ArgumentException($"item {type} was not asked for when {Project} was evaluated", nameof(type));

    /// <summary>The package ids of the project's own PackageReference items (not transitive ones).</summary>
    public IReadOnlyList<string> PackageReferences => Items("PackageReference").Select(item => item.Identity).ToList();

    /// <summary>The libraries (packages and projects) in the project's restore output, transitive ones included; restores first when there is none yet.</summary>
    public static async Task<IReadOnlyList<string>> RestoredLibrariesAsync(string project)
    {
        var assets = Path.Combine(RepositoryRoot, Path.GetDirectoryName(project)!, "obj", "project.assets.json");
        if (!File.Exists(assets))
        {
            var (exitCode, output) = await DotNetProcess.RunAsync(RepositoryRoot, ["restore", project, "--nologo"], Timeout);
            Assert.True(exitCode == 0, $"dotnet restore {project} failed ({exitCode}):{Environment.NewLine}{output}");
        }

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(assets));
        // Keys are "id/version".
        return json.RootElement.GetProperty("libraries").EnumerateObject().Select(library => library.Name.Split('/')[0]).ToList();
    }

    private static List<string> Arguments(string project, IReadOnlyDictionary<string, string>? globalProperties, string? targets)
    {
        List<string> arguments = ["msbuild", project, "-nologo", "-nodeReuse:false"];
        if (targets is not null)
        {
            arguments.Add($"-t:{targets}");
        }

        arguments.AddRange((globalProperties ?? new Dictionary<string, string>()).Select(property => $"-p:{property.Key}={property.Value}"));
        return arguments;
    }

    private static Dictionary<string, string> ReadProperties(JsonElement root) =>
        root.TryGetProperty("Properties", out var properties)
            ? properties.EnumerateObject().ToDictionary(property => property.Name, property => property.Value.GetString() ?? "")
            : [];

    private static Dictionary<string, IReadOnlyList<EvaluatedItem>> ReadItems(JsonElement root) =>
        root.TryGetProperty("Items", out var items)
            ? items.EnumerateObject().ToDictionary(
                type => type.Name,
                type => (IReadOnlyList<EvaluatedItem>)type.Value.EnumerateArray().Select(ReadItem).ToList())
            : [];

    private static EvaluatedItem ReadItem(JsonElement item)
    {
        var metadata = item.EnumerateObject()
            .Where(entry => entry.Name != "Identity" && !WellKnownMetadata.Contains(entry.Name))
            .ToDictionary(entry => entry.Name, entry => entry.Value.GetString() ?? "");
        return new EvaluatedItem(item.GetProperty("Identity").GetString()!, metadata);
    }

    private static readonly HashSet<string> WellKnownMetadata =
    [
        "FullPath", "RootDir", "Filename", "Extension", "RelativeDir", "Directory", "RecursiveDir",
        "ModifiedTime", "CreatedTime", "AccessedTime",
        "DefiningProjectFullPath", "DefiningProjectDirectory", "DefiningProjectName", "DefiningProjectExtension",
    ];
}
