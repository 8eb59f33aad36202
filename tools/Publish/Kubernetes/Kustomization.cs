using System.Text;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// A <c>kustomization.yaml</c>, in the fields both kustomize 2 (Debian's <c>kubectl</c> 1.20)
/// and kustomize 5 (current <c>kubectl</c>) read: <c>bases</c>, <c>resources</c>,
/// <c>patchesStrategicMerge</c>, <c>patchesJson6902</c>, <c>images</c> and generators with literals.
/// </summary>
public sealed class Kustomization
{
    public string? Comment { get; init; }

    public string? Namespace { get; init; }

    public List<string> Bases { get; } = [];

    public List<string> Resources { get; } = [];

    public List<string> StrategicMergePatches { get; } = [];

    public List<(string Group, string Version, string Kind, string Name, string Path)> JsonPatches { get; } = [];

    public List<(string Name, string NewTag)> Images { get; } = [];

    public List<(string Name, IReadOnlyDictionary<string, string> Literals)> Secrets { get; } = [];

    public List<(string Name, string File, IReadOnlyDictionary<string, string> Labels)> ConfigMapFiles { get; } = [];

    public string Render()
    {
        var yaml = new StringBuilder();
        if (Comment is not null)
        {
            foreach (var line in Comment.Split('\n'))
            {
                yaml.Append("# ").AppendLine(line);
            }
        }

        yaml.AppendLine("apiVersion: kustomize.config.k8s.io/v1beta1");
        yaml.AppendLine("kind: Kustomization");
        if (Namespace is not null)
        {
            yaml.Append("namespace: ").AppendLine(Namespace);
        }

        List("bases", Bases);
        List("resources", Resources);
        List("patchesStrategicMerge", StrategicMergePatches);
        if (JsonPatches.Count > 0)
        {
            yaml.AppendLine("patchesJson6902:");
            foreach (var (group, version, kind, name, path) in JsonPatches)
            {
                yaml.AppendLine("- target:");
                if (group.Length > 0)
                {
                    yaml.Append("    group: ").AppendLine(group);
                }

                yaml.Append("    version: ").AppendLine(version);
                yaml.Append("    kind: ").AppendLine(kind);
                yaml.Append("    name: ").AppendLine(name);
                yaml.Append("  path: ").AppendLine(path);
            }
        }

        if (Images.Count > 0)
        {
            yaml.AppendLine("images:");
            foreach (var (name, tag) in Images)
            {
                yaml.Append("- name: ").AppendLine(name);
                yaml.Append("  newTag: ").AppendLine(Quote(tag));
            }
        }

        if (ConfigMapFiles.Count > 0)
        {
            // Grafana's sidecar finds dashboards by label; a fixed name keeps one copy of it.
            yaml.AppendLine("generatorOptions:");
            yaml.AppendLine("  disableNameSuffixHash: true");
            yaml.AppendLine("  labels:");
            foreach (var (key, value) in ConfigMapFiles.SelectMany(map => map.Labels).Distinct().OrderBy(label => label.Key, StringComparer.Ordinal))
            {
                yaml.Append("    ").Append(key).Append(": ").AppendLine(Quote(value));
            }

            yaml.AppendLine("configMapGenerator:");
            foreach (var (name, file, _) in ConfigMapFiles)
            {
                yaml.Append("- name: ").AppendLine(name);
                yaml.AppendLine("  files:");
                yaml.Append("  - ").AppendLine(file);
            }
        }

        if (Secrets.Count > 0)
        {
            yaml.AppendLine("secretGenerator:");
            foreach (var (name, literals) in Secrets)
            {
                yaml.Append("- name: ").AppendLine(name);
                yaml.AppendLine("  literals:");
                foreach (var (key, value) in literals)
                {
                    yaml.Append("  - ").AppendLine(Quote($"{key}={value}"));
                }
            }
        }

        return yaml.ToString();

        void List(string field, List<string> items)
        {
            if (items.Count == 0)
            {
                return;
            }

            yaml.Append(field).AppendLine(":");
            foreach (var item in items)
            {
                yaml.Append("- ").AppendLine(item);
            }
        }
    }

    /// <summary>A YAML single-quoted scalar: nothing in it is special but the quote itself.</summary>
    public static string Quote(string value) => $"'{value.Replace("'", "''", StringComparison.Ordinal)}'";
}
