using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace MsSwift.Training.Jobs;

/// <summary>
/// The address workers dial to reach the parameter servers this coordinator leads; written into
/// each led job's record, so any number of coordinators can sit behind one service name.
/// <c>Training:AdvertisedAddress</c> when set; otherwise the coordinator's own gRPC endpoint
/// (<c>Kestrel:Endpoints:Grpc:Url</c>), with a wildcard host (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>,
/// <c>[::]</c>: a container or pod) replaced by this machine's first non-loopback IPv4 address:
/// the pod IP in Kubernetes.
/// </summary>
public sealed class AdvertisedAddress(IOptions<TrainingOptions> options, IConfiguration configuration)
{
    private static readonly string[] WildcardHosts = ["://*:", "://+:", "://0.0.0.0:", "://[::]:"];
    private readonly Lazy<string> _value = new(() => Resolve(options.Value.AdvertisedAddress, configuration["Kestrel:Endpoints:Grpc:Url"]));

    public string Value => _value.Value;

    public static string Resolve(string advertised, string? grpcUrl)
    {
        if (advertised.Length > 0)
        {
            return advertised.TrimEnd('/');
        }

        if (string.IsNullOrWhiteSpace(grpcUrl))
        {
            throw new InvalidOperationException($"set {TrainingOptions.SectionName}:{nameof(TrainingOptions.AdvertisedAddress)} (how workers reach this coordinator) or Kestrel:Endpoints:Grpc:Url");
        }

        // Uri cannot parse "http://*:8081"; the host is swapped before parsing.
        var wildcard = WildcardHosts.FirstOrDefault(host => grpcUrl.Contains(host, StringComparison.Ordinal));
        var url = wildcard is null ? grpcUrl : grpcUrl.Replace(wildcard, $"://{MachineAddress()}:", StringComparison.Ordinal);
        return new Uri(url).GetLeftPart(UriPartial.Authority);
    }

    private static string MachineAddress()
    {
        var address = NetworkInterface.GetAllNetworkInterfaces()
            .Where(network => network.OperationalStatus == OperationalStatus.Up && network.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(network => network.GetIPProperties().UnicastAddresses)
            .Select(unicast => unicast.Address)
            .FirstOrDefault(candidate => candidate.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(candidate));
        return address?.ToString() ?? Dns.GetHostName();
    }
}
