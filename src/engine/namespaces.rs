//! The namespaces the engine reads, named once.

pub(super) const NS_BIND: &str = "Appliance.Control.Bind";
pub(super) const NS_UNBIND: &str = "Appliance.Control.Unbind";
pub(super) const NS_CLOCK: &str = "Appliance.System.Clock";
pub(super) const NS_REPORT: &str = "Appliance.System.Report";
pub(super) const NS_CONSUMPTION_CONFIG: &str = "Appliance.Control.ConsumptionConfig";
pub(super) const NS_ABILITY: &str = "Appliance.System.Ability";
pub(super) const NS_ALL: &str = "Appliance.System.All";
pub(super) const NS_TOGGLEX: &str = "Appliance.Control.ToggleX";
pub(super) const NS_TOGGLE: &str = "Appliance.Control.Toggle";
pub(super) const NS_ELECTRICITY: &str = "Appliance.Control.Electricity";
pub(super) const NS_ELECTRICITYX: &str = "Appliance.Control.ElectricityX";
pub(super) const NS_CONSUMPTIONX: &str = "Appliance.Control.ConsumptionX";
