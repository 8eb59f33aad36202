namespace MsSwift.Data.Extensions;

internal static class Extensions
{
    /// <summary>The data service records dataset versions in Redis.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedis();
    }
}
