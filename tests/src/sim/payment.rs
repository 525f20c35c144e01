//! Paying an order: discount, vouchers, then the cash balance; then the order's effect
//! (resources opened or renewed), its fee records and the balance change records.

use super::books::{BILL_NEW, BILL_RENEW, Charge};
use super::errors::{ApiError, codes};
use super::request::{fmt_time, parse_time};
use super::trade::{
    COMPLETED, Charging, CouponUse, IN_USE, NEW_PURCHASE, Order, PENDING_PAYMENT, RENEWAL, Resource,
};
use super::world::World;
use rust_decimal::{Decimal, RoundingStrategy};
use time::OffsetDateTime;

/// Usable voucher status of a partner-issued voucher.
const USABLE: u8 = 1;

/// Rounds to the cent, as the vendor charges.
pub fn cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Adds `num` periods (2 month, 3 year) to a time.
pub fn add_period(t: OffsetDateTime, period_type: u8, num: u32) -> OffsetDateTime {
    let months = match period_type {
        3 => num * 12,
        _ => num,
    };
    let mut month = u32::from(u8::from(t.month())) - 1 + months;
    let year = t.year() + (month / 12) as i32;
    month %= 12;
    let m = time::Month::try_from((month + 1) as u8).unwrap_or(time::Month::January);
    let day = t.day().min(m.length(year));
    t.replace_day(1)
        .and_then(|t| t.replace_year(year))
        .and_then(|t| t.replace_month(m))
        .and_then(|t| t.replace_day(day))
        .unwrap_or(t)
}

/// What the payer chose.
#[derive(Default)]
pub struct Choice {
    /// A discount offered on the order.
    pub discount: Option<String>,
    /// Vouchers of the payer, used in order.
    pub coupons: Vec<String>,
}

/// Pays a pending order of `customer` at `now`, or refuses without changing anything.
pub fn pay(
    w: &mut World,
    customer: &str,
    order_id: &str,
    choice: &Choice,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let order = w
        .orders
        .get(order_id)
        .filter(|o| o.customer_id == customer)
        .cloned()
        .ok_or_else(|| ApiError::bad(codes::INVALID_ORDER, "Invalid order: it does not exist."))?;
    if order.status != PENDING_PAYMENT {
        return Err(ApiError::bad(
            codes::ORDER_STATUS_CHANGED,
            "The order's status has changed; it cannot be paid.",
        ));
    }
    let ratio = match &choice.discount {
        None => Decimal::ONE,
        Some(id) => order
            .discounts
            .iter()
            .find(|d| d.discount_id == *id)
            .map(|d| d.ratio)
            .ok_or_else(|| {
                ApiError::bad(
                    codes::DISCOUNT_NOT_APPLICABLE,
                    "The discount cannot be used for this order.",
                )
            })?,
    };
    let due = cents(order.official_amount * ratio);
    let mut left = due;
    let mut uses = Vec::new();
    for id in &choice.coupons {
        let usable = w.coupons.get(id).filter(|x| {
            x.customer_id == customer
                && x.status == USABLE
                && x.balance > Decimal::ZERO
                && parse_time(&x.expire_time).is_some_and(|t| t > now)
                && (x.cloud_service_types.is_empty()
                    || x.cloud_service_types.contains(&order.service_type_code))
        });
        let Some(x) = usable else {
            return Err(ApiError::bad(
                codes::COUPON_USED,
                format!("The voucher {id} is used up or cannot be used for this order."),
            ));
        };
        let take = x.balance.min(left);
        left -= take;
        uses.push(CouponUse {
            coupon_id: id.clone(),
            amount: take,
        });
    }
    let balance = w
        .customers
        .get(customer)
        .map(|c| c.balance)
        .unwrap_or_default();
    if balance < left {
        return Err(ApiError::bad(
            codes::INSUFFICIENT_BALANCE,
            "The account balance is insufficient.",
        ));
    }
    // Everything checked: from here on the payment happens.
    let stamp = fmt_time(now);
    let coupon_total: Decimal = uses.iter().map(|u| u.amount).sum();
    if let Some(c) = w.customers.get_mut(customer) {
        c.balance -= left;
    }
    for u in &uses {
        if let Some(x) = w.coupons.get_mut(&u.coupon_id) {
            x.balance -= u.amount;
        }
        w.post_coupon_change(&u.coupon_id, order_id, -u.amount, &stamp);
    }
    if left > Decimal::ZERO {
        let service = order.service_type_code.clone();
        w.post_change(
            customer,
            None,
            "DEDEUCT",
            order_id,
            -left,
            &stamp,
            Some(&service),
        );
    }
    fulfil(w, &order, ratio, left, coupon_total, due, now);
    if let Some(o) = w.orders.get_mut(order_id) {
        o.status = COMPLETED;
        o.payment_time = Some(stamp);
        o.amount = due;
        o.discount_amount = order.official_amount - due;
        o.coupon_amount = coupon_total;
        o.cash_amount = left;
        o.applied_discount = choice.discount.clone();
        o.coupons_used = uses;
    }
    Ok(())
}

/// Opens (new purchase) or extends (renewal) the order's resources, and bills each line.
fn fulfil(
    w: &mut World,
    order: &Order,
    ratio: Decimal,
    cash: Decimal,
    coupon: Decimal,
    due: Decimal,
    now: OffsetDateTime,
) {
    let stamp = fmt_time(now);
    for (i, line) in order.lines.iter().enumerate() {
        let Some(product) = w.products.get(&line.product_id).cloned() else {
            continue;
        };
        // Each line's share of what was paid, the last line taking the rounding rest.
        let share = |part: Decimal| {
            if due.is_zero() {
                return Decimal::ZERO;
            }
            let mut s = cents(part * cents(line.official_amount * ratio) / due);
            if i + 1 == order.lines.len() {
                let before: Decimal = order.lines[..i]
                    .iter()
                    .map(|l| cents(part * cents(l.official_amount * ratio) / due))
                    .sum();
                s = part - before;
            }
            s
        };
        let (line_cash, line_coupon) = (share(cash), share(coupon));
        let rid = match (order.order_type, &line.resource_id) {
            (RENEWAL, Some(rid)) => {
                if let Some(r) = w.resources.get_mut(rid) {
                    let from = r
                        .expire_time
                        .as_deref()
                        .and_then(parse_time)
                        .filter(|t| *t > now)
                        .unwrap_or(now);
                    r.expire_time = Some(fmt_time(add_period(
                        from,
                        line.period_type,
                        line.period_num,
                    )));
                    r.status = IN_USE;
                    r.paid_cash += line_cash;
                }
                rid.clone()
            }
            (NEW_PURCHASE, existing) => {
                let rid = existing.clone().unwrap_or_else(|| w.new_id("RS"));
                let expire = add_period(now, line.period_type, line.period_num);
                w.resources.insert(
                    rid.clone(),
                    Resource {
                        resource_id: rid.clone(),
                        customer_id: order.customer_id.clone(),
                        name: format!(
                            "{}-{}",
                            product
                                .resource_type_code
                                .rsplit('.')
                                .next()
                                .unwrap_or("res"),
                            rid
                        ),
                        product_id: product.product_id.clone(),
                        order_id: Some(order.order_id.clone()),
                        charging: Charging::Period,
                        status: IN_USE,
                        effective_time: stamp.clone(),
                        expire_time: Some(fmt_time(expire)),
                        expire_policy: 0,
                        auto_renew_times: None,
                        period_type: Some(line.period_type),
                        paid_cash: line_cash,
                    },
                );
                if let Some(o) = w.orders.get_mut(&order.order_id)
                    && let Some(l) = o.lines.get_mut(i)
                {
                    l.resource_id = Some(rid.clone());
                }
                rid
            }
            _ => continue,
        };
        let bill_type = if order.order_type == RENEWAL {
            BILL_RENEW
        } else {
            BILL_NEW
        };
        let charge = Charge {
            customer_id: &order.customer_id,
            trade_id: &order.order_id,
            resource_id: &rid,
            product: &product,
            charging: Charging::Period,
            bill_type,
        };
        w.post_fee(
            &charge,
            &stamp,
            line.official_amount,
            line_cash,
            line_coupon,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_add_whole_months_and_clamp_the_day() {
        let t = datetime!(2026-01-31 10:00 UTC);
        assert_eq!(add_period(t, 2, 1), datetime!(2026-02-28 10:00 UTC));
        assert_eq!(add_period(t, 2, 12), datetime!(2027-01-31 10:00 UTC));
        assert_eq!(add_period(t, 3, 2), datetime!(2028-01-31 10:00 UTC));
    }
}
