using MsSwift.Data.Extensions;
using MsSwift.Data.Grpc;
using MsSwift.Data.Http;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.Services.AddGrpc();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGrpcService<DataServiceImpl>();
app.MapDatasetEndpoints();
app.Run();
