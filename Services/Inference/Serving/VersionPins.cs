using System.Collections.Frozen;
using MsSwift.Contracts;

namespace MsSwift.Inference.Serving;

/// <summary>The gateway's canary draw for one request (<see cref="MsSwiftHeaders.VersionPins"/>): model to version.</summary>
public sealed class VersionPins
{
    public static readonly VersionPins None = new(FrozenDictionary<string, string>.Empty);

    private readonly FrozenDictionary<string, string> _versions;

    private VersionPins(FrozenDictionary<string, string> versions) => _versions = versions;

    public string? For(string model) => _versions.GetValueOrDefault(model);

    /// <summary>Reads the header; malformed entries are ignored (a pin is a routing hint, never a reason to fail a request).</summary>
    public static VersionPins Parse(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return None;
        }

        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && equals < entry.Length - 1)
            {
                versions[entry[..equals]] = entry[(equals + 1)..];
            }
        }

        return new VersionPins(versions.ToFrozenDictionary(StringComparer.Ordinal));
    }
}
