namespace MsSwift.Gateway.Extensions;

internal static class Extensions
{
    /// <summary>
    /// YARP routes and clusters come from the <c>ReverseProxy</c> section; destinations are
    /// service-discovery names (<c>http://inference</c>, <c>http://_grpc.inference</c>).
    /// Redis will hold API keys and rate-limit counters.
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedis();
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddServiceDiscoveryDestinationResolver();
    }
}
