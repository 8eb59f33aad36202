using k8s.Models;
using MsSwift.Publish.Manifest;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// A resource's manifest environment, split the way Kubernetes keeps it: settings in the
/// service's ConfigMap, credentials and the addresses of state as references into the one
/// Secret (so an operator can point Redis, Kafka or object storage elsewhere by editing it).
/// </summary>
public sealed class Environment(Cluster cluster)
{
    // Values the Secret needs, by key: resolved per overlay (development values, or placeholders).
    private readonly SortedDictionary<string, string> _secretTemplates = new(StringComparer.Ordinal);

    /// <summary>The Secret's keys and the manifest expressions their values come from.</summary>
    public IReadOnlyDictionary<string, string> SecretTemplates => _secretTemplates;

    public (SortedDictionary<string, string> Settings, List<V1EnvVar> Secrets) Split(string resource)
    {
        // A secret parameter's value is never read here: whatever holds one goes to the Secret.
        var values = new ManifestValues(cluster.Manifest, cluster.HostOf, cluster.PortOf, parameter =>
            cluster.Manifest[parameter].IsSecret ? "" : throw new InvalidDataException($"parameter '{parameter}' is not secret: the publisher has no setting for it"));
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var secrets = new List<V1EnvVar>();
        foreach (var (variable, template) in cluster.Manifest[resource].Environment)
        {
            var resolved = values.Resolve(template);
            if (!resolved.Secret)
            {
                settings[variable] = resolved.Text;
                continue;
            }

            var key = ManifestValues.SecretKey(variable, template);
            if (_secretTemplates.TryGetValue(key, out var existing) && existing != template)
            {
                throw new InvalidDataException($"secret key '{key}' would hold both '{existing}' and '{template}'");
            }

            _secretTemplates[key] = template;
            secrets.Add(SecretVariable(variable, key));
        }

        return (settings, secrets);
    }

    /// <summary>The Secret's values: each expression resolved with <paramref name="parameterValue"/> for the parameters.</summary>
    public SortedDictionary<string, string> SecretValues(Func<string, string> parameterValue)
    {
        var values = new ManifestValues(cluster.Manifest, cluster.HostOf, cluster.PortOf, parameterValue);
        return new SortedDictionary<string, string>(
            _secretTemplates.ToDictionary(entry => entry.Key, entry => values.Resolve(entry.Value).Text), StringComparer.Ordinal);
    }

    public static V1EnvVar SecretVariable(string variable, string key) => new()
    {
        Name = variable,
        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = Cluster.SecretName, Key = key } },
    };
}
