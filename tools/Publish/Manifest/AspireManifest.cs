using System.Text.Json;
using System.Text.Json.Serialization;

namespace MsSwift.Publish.Manifest;

/// <summary>
/// The parts of Aspire's manifest (<c>aspire-manifest.json</c>, format <c>*.v0</c>) the publisher
/// reads: projects, containers, parameters and the expressions between them.
/// </summary>
public sealed record AspireManifest(IReadOnlyDictionary<string, ManifestResource> Resources)
{
    public const string ProjectType = "project.v0";
    public const string ContainerType = "container.v0";
    public const string ParameterType = "parameter.v0";

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public static AspireManifest Load(string path)
    {
        var document = JsonSerializer.Deserialize<ManifestDocument>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"{path} is empty");
        return new AspireManifest(document.Resources);
    }

    /// <summary>The projects, in manifest order (the AppHost's order, dependencies first).</summary>
    public IEnumerable<(string Name, ManifestResource Resource)> Projects =>
        Resources.Where(entry => entry.Value.Type == ProjectType).Select(entry => (entry.Key, entry.Value));

    public ManifestResource this[string name] =>
        Resources.TryGetValue(name, out var resource) ? resource : throw new InvalidDataException($"the manifest has no resource '{name}'");

    private sealed record ManifestDocument(Dictionary<string, ManifestResource> Resources);
}

public sealed record ManifestResource(
    string Type,
    string? Path = null,
    string? Image = null,
    string? ConnectionString = null,
    string? Value = null,
    string? Entrypoint = null,
    IReadOnlyList<string>? Args = null,
    IReadOnlyDictionary<string, string>? Env = null,
    IReadOnlyDictionary<string, ManifestBinding>? Bindings = null,
    IReadOnlyList<ManifestVolume>? Volumes = null,
    IReadOnlyDictionary<string, ManifestInput>? Inputs = null)
{
    public IReadOnlyDictionary<string, string> Environment => Env ?? new Dictionary<string, string>();

    public IReadOnlyDictionary<string, ManifestBinding> Endpoints => Bindings ?? new Dictionary<string, ManifestBinding>();

    /// <summary>A parameter whose value the operator must keep secret.</summary>
    public bool IsSecret => Inputs?.Values.Any(input => input.Secret) == true;
}

public sealed record ManifestBinding(string Scheme, string Protocol, string Transport, int TargetPort, bool External = false);

public sealed record ManifestVolume(string Name, string Target, bool ReadOnly);

public sealed record ManifestInput(string Type, bool Secret, [property: JsonPropertyName("default")] JsonElement? Default = null);
