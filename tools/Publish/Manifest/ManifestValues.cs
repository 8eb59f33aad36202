using System.Text;
using System.Text.RegularExpressions;

namespace MsSwift.Publish.Manifest;

/// <summary>A manifest value resolved for Kubernetes; <see cref="Secret"/> when it holds a credential or addresses state (Redis, Kafka, object storage), which an operator may point elsewhere.</summary>
public sealed record ResolvedValue(string Text, bool Secret);

/// <summary>
/// Resolves the manifest's <c>{resource.property}</c> expressions to what they are inside the
/// cluster: a service's DNS name and port, a state service's address, a parameter's value.
/// </summary>
public sealed partial class ManifestValues(AspireManifest manifest, Func<string, string> hostOf, Func<string, string, int> portOf, Func<string, string> parameterValue)
{
    public ResolvedValue Resolve(string template)
    {
        var secret = false;
        var text = Placeholder().Replace(template, match =>
        {
            var (value, isSecret) = ResolvePlaceholder(match.Groups[1].Value);
            secret |= isSecret;
            return value;
        });
        return new ResolvedValue(text, secret);
    }

    /// <summary>
    /// The key a secret value has in the product's Secret: named after what it is when it is one
    /// expression (<c>redis</c> for a connection string, <c>redis-password</c> for a parameter,
    /// <c>checkpoints-url</c>), else after <paramref name="variable"/> (<c>REDIS_URI</c> becomes <c>redis-uri</c>).
    /// </summary>
    public static string SecretKey(string variable, string template)
    {
        var match = Placeholder().Match(template);
        if (match.Success && match.Length == template.Length)
        {
            var parts = match.Groups[1].Value.Split('.');
            return parts switch
            {
                [var resource, "connectionString"] => resource,
                [var resource, "value"] => resource,
                [var resource, "bindings", _, var property] => $"{resource}-{Kebab(property)}",
                _ => throw new InvalidDataException($"unsupported manifest expression '{template}'"),
            };
        }

        return variable.Replace("__", "-", StringComparison.Ordinal).Replace('_', '-').ToLowerInvariant();
    }

    /// <summary>The resources a template refers to (its dependencies).</summary>
    public static IEnumerable<string> References(string template) =>
        Placeholder().Matches(template).Select(match => match.Groups[1].Value.Split('.')[0]);

    private (string Value, bool Secret) ResolvePlaceholder(string expression)
    {
        var parts = expression.Split('.');
        var resource = manifest[parts[0]];
        switch (parts)
        {
            case [_, "connectionString"]:
                var connection = Resolve(resource.ConnectionString ?? throw new InvalidDataException($"'{parts[0]}' has no connection string"));
                return (connection.Text, connection.Secret || resource.Type == AspireManifest.ContainerType);
            case [var name, "value"] when resource.Type == AspireManifest.ParameterType:
                return (parameterValue(name), resource.IsSecret);
            case [_, "value"]:
                // annotated.string: a value with a filter (the URI-encoded password).
                var inner = Resolve(resource.Value ?? "");
                return (Uri.EscapeDataString(inner.Text), inner.Secret);
            case [var name, "bindings", var binding, var property]:
                var endpoint = resource.Endpoints.TryGetValue(binding, out var found) ? found
                    : throw new InvalidDataException($"'{name}' has no binding '{binding}'");
                var state = resource.Type == AspireManifest.ContainerType;
                return property switch
                {
                    "host" => (hostOf(name), state),
                    "port" => (portOf(name, binding).ToString(System.Globalization.CultureInfo.InvariantCulture), state),
                    "targetPort" => (endpoint.TargetPort.ToString(System.Globalization.CultureInfo.InvariantCulture), false),
                    "scheme" => (endpoint.Scheme, state),
                    "url" => ($"{endpoint.Scheme}://{hostOf(name)}:{portOf(name, binding)}", state),
                    _ => throw new InvalidDataException($"unsupported binding property in '{{{expression}}}'"),
                };
            default:
                throw new InvalidDataException($"unsupported manifest expression '{{{expression}}}'");
        }
    }

    private static string Kebab(string camel)
    {
        var builder = new StringBuilder();
        foreach (var character in camel)
        {
            if (char.IsUpper(character) && builder.Length > 0)
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(character));
        }

        return builder.ToString();
    }

    [GeneratedRegex(@"\{([A-Za-z0-9_.-]+)\}")]
    private static partial Regex Placeholder();
}
