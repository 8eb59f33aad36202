using k8s.Models;

namespace MsSwift.Publish.Crds;

/// <summary>KEDA's <c>ScaledObject</c> (keda.sh/v1alpha1): KEDA runs the HPA that scales the target on these triggers.</summary>
public sealed class ScaledObject() : CustomResource<ScaledObjectSpec>(Version, nameof(ScaledObject))
{
    public const string Version = "keda.sh/v1alpha1";
}

public sealed class ScaledObjectSpec
{
    public ScaleTargetRef ScaleTargetRef { get; set; } = new();

    public int MinReplicaCount { get; set; }

    public int MaxReplicaCount { get; set; }

    public int PollingInterval { get; set; }

    public int CooldownPeriod { get; set; }

    public ScaledObjectAdvanced? Advanced { get; set; }

    public List<ScaleTrigger> Triggers { get; set; } = [];
}

public sealed class ScaleTargetRef
{
    public string Name { get; set; } = "";
}

public sealed class ScaledObjectAdvanced
{
    public HorizontalPodAutoscalerConfig HorizontalPodAutoscalerConfig { get; set; } = new();
}

public sealed class HorizontalPodAutoscalerConfig
{
    public V2HorizontalPodAutoscalerBehavior? Behavior { get; set; }
}

public sealed class ScaleTrigger
{
    public string Type { get; set; } = "";

    public string? Name { get; set; }

    /// <summary><c>Utilization</c> or <c>AverageValue</c> (cpu and memory triggers), <c>AverageValue</c> or <c>Value</c> (the others).</summary>
    public string? MetricType { get; set; }

    public Dictionary<string, string> Metadata { get; set; } = [];
}
